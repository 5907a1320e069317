/**
 * effect-tcp: TCP and Unix-domain sockets for Effect, a port of OCaml Async's `Tcp` with its
 * buffered `Reader` and `Writer`.
 *
 * The `@effect/platform` adapters are separate entry points, so that programs which do not use
 * them do not load `@effect/platform/Socket` and `effect/Schema`: `effect-tcp/PlatformSocket`
 * and `effect-tcp/PlatformSocketServer`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Address from "./Address.js"
/** @since 0.1.0 */
export * as BindToAddress from "./BindToAddress.js"
/** @since 0.1.0 */
export * as BindToPort from "./BindToPort.js"
/** @since 0.1.0 */
export * as Connection from "./Connection.js"
/** @since 0.1.0 */
export * as Metrics from "./Metrics.js"
/** @since 0.1.0 */
export * as Reader from "./Reader.js"
/** @since 0.1.0 */
export * as Reconnect from "./Reconnect.js"
/** @since 0.1.0 */
export * as Resolver from "./Resolver.js"
/** @since 0.1.0 */
export * as Server from "./Server.js"
/** @since 0.2.0 */
export * as ServerCluster from "./ServerCluster.js"
/** @since 0.1.0 */
export * as Tcp from "./Tcp.js"
/** @since 0.1.0 */
export * as TcpError from "./TcpError.js"
/** @since 0.2.0 */
export * as Tls from "./Tls.js"
/** @since 0.1.0 */
export * as WhereToConnect from "./WhereToConnect.js"
/** @since 0.1.0 */
export * as WhereToListen from "./WhereToListen.js"
/** @since 0.1.0 */
export * as Writer from "./Writer.js"
