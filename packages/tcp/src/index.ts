/**
 * effect-tcp: TCP and Unix-domain sockets for Effect, a port of OCaml Async's `Tcp` with its
 * buffered `Reader` and `Writer`.
 *
 * The modules that need an optional peer dependency or `effect/Schema` are separate entry points,
 * so that programs which do not use them do not load them: the `@effect/platform` adapters
 * `effect-tcp/PlatformSocket` and `effect-tcp/PlatformSocketServer`, the `@effect/cluster`
 * transport `effect-tcp/ClusterSocket`, and `effect-tcp/Message` (Schema-typed messages).
 *
 * @since 0.1.0
 * @module
 */

export * as Address from "./Address.js"
export * as BindToAddress from "./BindToAddress.js"
export * as BindToPort from "./BindToPort.js"
export * as Connection from "./Connection.js"
export * as Copy from "./Copy.js"
export * as Framing from "./Framing.js"
export * as Idle from "./Idle.js"
export * as Metrics from "./Metrics.js"
export * as Reader from "./Reader.js"
export * as Reconnect from "./Reconnect.js"
export * as Resolver from "./Resolver.js"
export * as Server from "./Server.js"
export * as ServerCluster from "./ServerCluster.js"
export * as Tcp from "./Tcp.js"
export * as TcpError from "./TcpError.js"
export * as Tls from "./Tls.js"
export * as WhereToConnect from "./WhereToConnect.js"
export * as WhereToListen from "./WhereToListen.js"
export * as Writer from "./Writer.js"
