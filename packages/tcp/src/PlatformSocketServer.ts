/**
 * An effect-tcp `Server` provided as an `@effect/platform` `SocketServer`
 * (`@effect/platform/SocketServer`), so code written against that interface
 * (`RpcServer.layerProtocolSocketServer`, …) runs over effect-tcp unchanged, with effect-tcp's
 * server options: `maxConnections` and the held backlog, `dropIncomingConnections`, idle
 * timeouts, the reader's and writer's buffers and limits, and the graceful shutdown.
 *
 * The adapter behaves as `@effect/platform-node`'s `NodeSocketServer` does:
 *
 * - The server listens as soon as it is made (the Layer is built), so `address` is known.
 * - `run(handler)` serves every connection with `handler`, each in its own fiber, seeing it as
 *   a `Socket.Socket` (see `PlatformSocket.fromConnection`) with the run's context plus
 *   {@link IncomingConnection} (see {@link incomingConnection}); it runs until interrupted, and fails with `SocketServerError`
 *   `"Unknown"` if the server is closed under it. Connections that arrive while no `run` is
 *   active wait for the next one (they hold their slot of `maxConnections`; they end when the
 *   server closes); with several runs, the latest serves new connections.
 * - Interrupting `run` stops it taking new connections; the handlers it started get
 *   `shutdownGracePeriod` to finish, then are interrupted (their connections closed), and the
 *   interruption completes once they have ended. `NodeSocketServer` interrupts them at once;
 *   the grace period is what makes the graceful close apply when a Layer built on `run`
 *   (`RpcServer.layerProtocolSocketServer`, …) is released before the server's Layer.
 * - A failing handler never disturbs the server or another connection. Without an
 *   `onHandlerError` option its failure is logged at the run's `unhandledErrorLogLevel` (Debug
 *   unless changed), as `NodeSocketServer` does; a socket that closed and an interruption are
 *   normal ends. With `onHandlerError`, failures go to it (`"raise"` shuts the server down).
 *
 * **Lifetime.** Releasing the scope (or the Layer) shuts the server down gracefully: it stops
 * accepting, gives running handlers `shutdownGracePeriod` (10 seconds) to finish, then
 * interrupts them.
 *
 * @example
 * ```ts
 * import * as RpcSerialization from "@effect/rpc/RpcSerialization"
 * import * as RpcServer from "@effect/rpc/RpcServer"
 * import { Layer } from "effect"
 * import { WhereToListen } from "effect-tcp"
 * import * as PlatformSocketServer from "effect-tcp/PlatformSocketServer"
 *
 * // The protocol layer of an RPC server on port 7000, at most 1,000 clients at once
 * const ServerProtocol = RpcServer.layerProtocolSocketServer.pipe(
 *   Layer.provide(PlatformSocketServer.layer(WhereToListen.onPort(7000), { maxConnections: 1000 })),
 *   Layer.provide(RpcSerialization.layerNdjson)
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Address } from "./Address.js"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/platformSocketServer.js"
import type { AddressOf, ListeningOn, Server, ServerOptions } from "./Server.js"
import type { InvalidArgument, ListenError } from "./TcpError.js"
import type * as WhereToListen from "./WhereToListen.js"

/**
 * The identifier of the {@link IncomingConnection} tag.
 *
 * @since 0.1.0
 * @category tags
 */
export interface IncomingConnection {
  readonly _: unique symbol
}

/**
 * The effect-tcp connection behind the `Socket.Socket` a `run` handler is given: its
 * addresses, and its reader and writer (do not read from it while the socket's `run` reads).
 * Every handler started by `run` has it in its context; since the `SocketServer` interface
 * passes a handler's requirements on to `run`, read it with {@link incomingConnection}.
 *
 * @since 0.1.0
 * @category tags
 */
export const IncomingConnection: Context.Tag<IncomingConnection, Connection<Address>> = internal.IncomingConnection

/**
 * The connection a `run` handler serves ({@link IncomingConnection}), or `none` outside a
 * handler started by `run`.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect, Option } from "effect"
 * import { Address } from "effect-tcp"
 * import * as PlatformSocketServer from "effect-tcp/PlatformSocketServer"
 *
 * const handler = (_socket: Socket.Socket) =>
 *   Effect.gen(function*() {
 *     const conn = yield* PlatformSocketServer.incomingConnection
 *     if (Option.isSome(conn)) yield* Effect.log(`client ${Address.format(conn.value.socket.remoteAddress)}`)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const incomingConnection: Effect.Effect<Option.Option<Connection<Address>>> = Effect.serviceOption(
  IncomingConnection
)

/**
 * A `SocketServer` service backed by an effect-tcp server, which it also exposes (for
 * `numConnections`, `close`, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface PlatformSocketServer<W extends WhereToListen.WhereToListen = WhereToListen.WhereToListen>
  extends Context.Tag.Service<SocketServer.SocketServer>
{
  /** The effect-tcp server that accepts the connections. */
  readonly server: Server<AddressOf<W>, ListeningOn<W>, unknown>
}

/**
 * Starts an effect-tcp server listening on `where` with `options` and returns it as a
 * `SocketServer` service; it shuts down gracefully when the current scope closes. Fails with
 * `ListenError` or `InvalidArgument` as `Server.make` does, having opened nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WhereToListen } from "effect-tcp"
 * import * as PlatformSocketServer from "effect-tcp/PlatformSocketServer"
 *
 * // An echo server on a port the OS chooses, written against SocketServer's run
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socketServer = yield* PlatformSocketServer.make(WhereToListen.onPort(0), { maxConnections: 100 })
 *   yield* Effect.log(`listening on port ${socketServer.server.listeningOn}`)
 *   yield* socketServer.run((socket) =>
 *     Effect.gen(function*() {
 *       const write = yield* socket.writer
 *       yield* socket.run(write)
 *     }).pipe(Effect.scoped)
 *   )
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <W extends WhereToListen.WhereToListen>(
  where: W,
  options?: ServerOptions<AddressOf<W>, unknown>
) => Effect.Effect<PlatformSocketServer<W>, ListenError | InvalidArgument, Scope.Scope> = internal.make

/**
 * A Layer of `SocketServer.SocketServer`: building it starts an effect-tcp server listening on
 * `where` with `options` (see {@link make}); releasing it shuts the server down gracefully.
 *
 * Fails with: `ListenError` (address in use, permission denied, …) or `InvalidArgument` (bad
 * arguments), when the Layer is built.
 *
 * @example
 * ```ts
 * import * as SocketServer from "@effect/platform/SocketServer"
 * import { Effect } from "effect"
 * import { WhereToListen } from "effect-tcp"
 * import * as PlatformSocketServer from "effect-tcp/PlatformSocketServer"
 *
 * // Any code that needs a SocketServer, here served on a Unix socket by effect-tcp
 * const greet = Effect.gen(function*() {
 *   const server = yield* SocketServer.SocketServer
 *   yield* server.run((socket) =>
 *     Effect.gen(function*() {
 *       const write = yield* socket.writer
 *       yield* write("hello\n")
 *     }).pipe(Effect.scoped)
 *   )
 * }).pipe(Effect.provide(PlatformSocketServer.layer(WhereToListen.onFile("/tmp/greet.sock"))))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <W extends WhereToListen.WhereToListen>(
  where: W,
  options?: ServerOptions<AddressOf<W>, unknown>
): Layer.Layer<SocketServer.SocketServer, ListenError | InvalidArgument> =>
  Layer.scoped(SocketServer.SocketServer, internal.make(where, options))
