/**
 * TCP and Unix-domain socket servers: Async's `Tcp.Server`.
 *
 * A server listens where a `WhereToListen` says and runs a handler for every connection, each in
 * its own fiber and under its own `Scope`: what a handler opens closes with its connection.
 *
 * **Connection lifetime.** A connection ends when its handler ends (succeeds, fails, dies or is
 * interrupted) or the client leaves. Then its writer is closed (flushed, bounded by
 * `closeTimeout`), its reader, its socket, and only then does `numConnections` drop. A client
 * leaving is a normal end: a handler failing with `WriteError` `"ConsumerLeft"` or `ReadError`
 * `"Reset"` is not reported to `onHandlerError`. One handler's failure or defect never touches
 * another connection. A peer that breaks the protocol is not a bug of the program either: with the
 * default `onHandlerError`, a handler that fails only because the peer ended inside a message
 * (`ReadError` `"UnexpectedEof"`), sent a line, frame or length over a read bound (`"LineTooLong"`,
 * `"TooLarge"`, `FrameError`), was too slow for `readTimeout` (`"Timeout"`) or sent a message that
 * does not decode (`MessageError` `"Decode"`) is logged at debug level, as a client leaving,
 * without a stack; other failures are logged as errors. (A read that hits a bound or `readTimeout`
 * does not end the connection by itself: see the `Reader` module. It ends when the handler fails
 * with it.) Logs and spans
 * name the address the server is bound to (the port the OS chose, not `:0`).
 *
 * **Limits.** At `maxConnections` no new handler starts: clients that arrive are accepted and
 * held, connected but unread, in arrival order, up to `maxWaiting` of them, and served when a
 * slot frees (at most `maxAcceptsPerBatch` per turn of the event loop). Beyond `maxWaiting` a new
 * arrival is closed at once (and counted in the `effect_tcp_accepts_dropped_total` metric). The
 * kernel's `backlog` is separate: it queues handshakes the process has not accepted yet. When
 * the descriptor limit cannot hold `maxConnections + maxWaiting` sockets, both are lowered, the
 * change is logged once, and `server.maxConnections` / `server.maxWaiting` say what is in force.
 *
 * **Closing.** `close` stops accepting at once (the listening socket is closed, held
 * connections too; a Unix server removes its socket file) and is idempotent; no handler starts
 * after it. With `closeExistingConnections` the running handlers are interrupted (their
 * finalizers run). Releasing the server's `Scope` (or its `Layer`) is a graceful close: stop
 * accepting, give running handlers `shutdownGracePeriod` to finish, then interrupt them; the
 * release completes when every connection is closed.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 *
 * // An echo server, one line at a time.
 * const echo = Server.serve(WhereToListen.onPort(7000), (conn) =>
 *   Effect.gen(function*() {
 *     while (true) {
 *       const line = yield* conn.reader.readLine
 *       if (Option.isNone(line)) return
 *       yield* conn.writer.writeLine(line.value)
 *     }
 *   }))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type { Address, Inet, Unix } from "./Address.js"
import * as BindToAddress from "./BindToAddress.js"
import * as BindToPort from "./BindToPort.js"
import type { Connection, SocketOptions } from "./Connection.js"
import * as internal from "./internal/server.js"
import type { ReaderOptions } from "./Reader.js"
import type { InvalidArgument, ListenError } from "./TcpError.js"
import type { ServerOptions as TlsServerOptions } from "./Tls.js"
import * as WhereToListen from "./WhereToListen.js"
import type { WriterOptions } from "./Writer.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * The kind of address of the connections of a server listening on `W`.
 *
 * @since 0.1.0
 * @category models
 */
export type AddressOf<W extends WhereToListen.WhereToListen> = W extends WhereToListen.Unix ? Unix : Inet

/**
 * What a server listening on `W` listens on: a port number (inet) or a path (Unix).
 *
 * @since 0.1.0
 * @category models
 */
export type ListeningOn<W extends WhereToListen.WhereToListen> = W extends WhereToListen.Unix ? string : number

/**
 * What happens when a handler fails or dies (a client leaving and interruption are not
 * failures): `"ignore"`; `"raise"`, which shuts the server down (as `close` with
 * `closeExistingConnections`) and fails `closeFinishedAndHandlersDetermined` (and `serve`) with
 * the cause; or a function of the client's address and the cause. The default logs the cause
 * with `Effect.logError`.
 *
 * @since 0.1.0
 * @category models
 */
export type OnHandlerError<A extends Address, E> =
  | "ignore"
  | "raise"
  | ((address: A, cause: Cause.Cause<E>) => Effect.Effect<void>)

/**
 * Options of a server: Async's `Tcp.Server.create` arguments, plus the reader's and writer's
 * options for every connection. Bad values fail `make` with `InvalidArgument`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions<A extends Address = Address, E = unknown>
  extends ReaderOptions, WriterOptions, SocketOptions
{
  /**
   * Handlers running at once. Defaults to 10,000. Lowered when the process's descriptor limit
   * (soft `RLIMIT_NOFILE`, less 64 descriptors for the rest of the program and the held queue)
   * cannot hold that many sockets, to no fewer than 32; the change is logged once (a warning
   * when given explicitly) and `server.maxConnections` is what is in force. `Infinity` is
   * allowed (and lowered the same way).
   */
  readonly maxConnections?: number | undefined
  /**
   * Connections held, accepted but unread, while at `maxConnections`; beyond it new arrivals
   * are closed at once. Defaults to 1,024; lowered to an eighth of the descriptor budget when
   * the limit is low (see `maxConnections`). `0` holds none.
   *
   * @since 0.2.0
   */
  readonly maxWaiting?: number | undefined
  /**
   * The kernel's listen backlog: handshakes completed and not yet accepted. Defaults to 511,
   * Node's default (Async's 64 overflows under a burst of connects: clients wait for SYN
   * retransmits). The kernel caps it at `net.core.somaxconn`. Costs no descriptor.
   */
  readonly backlog?: number | undefined
  /** Held connections that get a handler per turn of the event loop when slots free. Defaults to 1. */
  readonly maxAcceptsPerBatch?: number | undefined
  /** Accept and close every new connection at once. Defaults to false; see `setDropIncomingConnections`. */
  readonly dropIncomingConnections?: boolean | undefined
  /**
   * What to do when a handler fails. Defaults to logging the cause: at error level, or at debug
   * level when the peer broke the protocol (see the module's docs).
   */
  readonly onHandlerError?: OnHandlerError<A, E> | undefined
  /** When the server's scope is released: how long running handlers may go on before they are interrupted. Defaults to 10 seconds. */
  readonly shutdownGracePeriod?: Duration.DurationInput | undefined
  /** A connection with no byte read or written for this long has its handler interrupted. Defaults to none. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * Serve over TLS (see the `Tls` module): each handler starts only after its client's
   * handshake completed, within `tls.handshakeTimeout` (10 seconds). A connection counts
   * against `maxConnections` during its handshake. A failed handshake never reaches the handler
   * or `onHandlerError`: it is counted in `Tls.handshakeFailures` by reason and logged at debug
   * level.
   */
  readonly tls?: TlsServerOptions | undefined
}

/**
 * Options of `close`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CloseOptions {
  /** Also close the open connections, interrupting their handlers (their finalizers run). Defaults to false. */
  readonly closeExistingConnections?: boolean | undefined
}

/**
 * A running server whose connections have addresses of kind `A`, listening on `L` (a port
 * number or a path), whose handlers fail with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server<A extends Address = Address, L extends number | string = number | string, E = unknown> {
  readonly [TypeId]: TypeId
  /** The port (also when the OS chose it) or the path the server listens on. */
  readonly listeningOn: L
  /** The address the server listens on (`::` for every address). */
  readonly listeningOnAddress: A
  /** Connections with a handler: from the handler's start until the connection's socket is closed. */
  readonly numConnections: Effect.Effect<number>
  /** Connections accepted and held, waiting for a slot (see `maxConnections`). */
  readonly numWaiting: Effect.Effect<number>
  /**
   * The `maxConnections` in force: as asked, or lowered by the descriptor limit.
   *
   * @since 0.2.0
   */
  readonly maxConnections: number
  /**
   * The `maxWaiting` in force: as asked, or lowered by the descriptor limit.
   *
   * @since 0.2.0
   */
  readonly maxWaiting: number
  /** Turns drop mode on or off: in drop mode every new connection is accepted and closed at once. */
  readonly setDropIncomingConnections: (drop: boolean) => Effect.Effect<void>
  /**
   * Stops accepting: the listening socket and the held connections are closed before this
   * completes. Idempotent. With `closeExistingConnections` the running handlers are interrupted;
   * it does not wait for them (await `closeFinishedAndHandlersDetermined`), so a handler may
   * call it. Never fails.
   *
   * Interruption: none to speak of: it does its work in one synchronous step and waits for
   * nothing, so once it runs the server is closed.
   */
  readonly close: (options?: CloseOptions) => Effect.Effect<void>
  /** Completes when the listening socket is closed. */
  readonly closeFinished: Effect.Effect<void>
  /**
   * Completes when the server is closed and every connection has ended and been closed; fails
   * with the handler's cause when `onHandlerError` is `"raise"` and a handler failed.
   */
  readonly closeFinishedAndHandlersDetermined: Effect.Effect<void, E>
  /** Whether `close` was called (or the server's scope released, or a handler raised). */
  readonly isClosed: Effect.Effect<boolean>
}

/**
 * Whether a value is a `Server`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isServer = (u: unknown): u is Server => hasProperty(u, TypeId)

/**
 * Options of {@link serve}: the server's options, and what to do once it listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions<A extends Address = Address, L extends number | string = number | string, E = unknown>
  extends ServerOptions<A, E>
{
  /** Runs once the server listens (to print or record `listeningOn`, for instance). */
  readonly onListening?: ((server: Server<A, L, E>) => Effect.Effect<void>) | undefined
}

/**
 * The running server provided by `layer`. Shared by every server, it types `listeningOn` as
 * `number | string`: to keep the server's own types, provide it under a tag of your own with
 * {@link layerAs}.
 *
 * @since 0.1.0
 * @category tags
 */
export class TcpServer extends Context.Tag("effect-tcp/Server/TcpServer")<
  TcpServer,
  Server<Address, number | string, unknown>
>() {}

/**
 * Starts a server listening on `where` that runs `handler` for every connection; it shuts down
 * gracefully when the current scope closes (see the module's docs). Fails with `ListenError`
 * (`AddressInUse`, `PermissionDenied`, `AddressNotAvailable`, …) when it cannot listen and with
 * `InvalidArgument` for bad arguments, having opened nothing.
 *
 * With an OS-chosen port, an "address in use" is retried. On a Unix path, a stale socket file
 * (nobody listens on it) is replaced, a path on which a server is live is refused with
 * `AddressInUse`, and a file that is not a socket is never removed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BindToAddress, BindToPort, Server, WhereToListen } from "effect-tcp"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* Server.make(
 *     WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
 *     (conn) => conn.writer.writeLine(`hello ${conn.socket.remoteAddress.host}`),
 *     { maxConnections: 100 }
 *   )
 *   const port: number = server.listeningOn
 *   yield* Effect.log(`listening on ${port}`)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServerOptions<AddressOf<W>, NoInfer<E>>
): Effect.Effect<
  Server<AddressOf<W>, ListeningOn<W>, E>,
  ListenError | InvalidArgument,
  Scope.Scope | Exclude<R, Scope.Scope>
> => internal.make<AddressOf<W>, ListeningOn<W>, E, R>(where, handler, options)

/**
 * Runs a server until interrupted (then shuts it down gracefully). `onListening` runs once the
 * server listens. Fails with the handler's cause when `onHandlerError` is `"raise"` and a
 * handler fails.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Stream } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 *
 * // An echo server on port 7000 until Ctrl-C.
 * Server.serve(
 *   WhereToListen.onPort(7000),
 *   (conn) => Stream.run(conn.reader.stream, conn.writer.sink),
 *   { onListening: (server) => Effect.log(`listening on port ${server.listeningOn}`) }
 * ).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServeOptions<AddressOf<W>, ListeningOn<W>, NoInfer<E>>
): Effect.Effect<never, E | ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  internal.serve<AddressOf<W>, ListeningOn<W>, E, R>(where, handler, options)

/**
 * A `Layer` that starts a server when built and provides it as `TcpServer`; releasing the layer
 * shuts the server down gracefully.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer, Stream } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 *
 * const EchoServer = Server.layer(WhereToListen.onPort(7000), (conn) => Stream.run(conn.reader.stream, conn.writer.sink))
 *
 * Layer.launch(EchoServer).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServerOptions<AddressOf<W>, NoInfer<E>>
): Layer.Layer<TcpServer, ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  Layer.scoped(TcpServer, make(where, handler, options))

/**
 * `layer` providing the server under a tag of your own, so that the server keeps its types
 * (`listeningOn` a `number` for inet, a `string` for Unix, its address kind): `TcpServer`, shared
 * by every server, can only say `number | string`. One tag per server also lets a program run
 * several.
 *
 * @example
 * ```ts
 * import { Context, Effect } from "effect"
 * import { type Address, BindToAddress, BindToPort, Server, WhereToListen } from "effect-tcp"
 *
 * class Api extends Context.Tag("app/Api")<Api, Server.Server<Address.Inet, number>>() {}
 *
 * const ApiLive = Server.layerAs(
 *   Api,
 *   WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
 *   (conn) => conn.writer.writeLine("hello")
 * )
 * const port: Effect.Effect<number, never, Api> = Effect.map(Api, (server) => server.listeningOn)
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerAs = <I, W extends WhereToListen.WhereToListen, E, R>(
  tag: Context.Tag<I, Server<AddressOf<W>, ListeningOn<W>, E>>,
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServerOptions<AddressOf<W>, NoInfer<E>>
): Layer.Layer<I, ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  Layer.scoped(tag, make(where, handler, options))

/**
 * `layer` on 127.0.0.1 and a port chosen by the OS, for tests: read the port from
 * `TcpServer`'s `listeningOn`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Server, Tcp, WhereToConnect } from "effect-tcp"
 *
 * const test = Effect.gen(function*() {
 *   const server = yield* Server.TcpServer
 *   return yield* Tcp.withConnection(
 *     WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn as number),
 *     (conn) => Effect.zipRight(conn.writer.writeLine("ping"), conn.reader.readLine)
 *   )
 * }).pipe(Effect.provide(Server.layerTest((conn) => conn.writer.writeLine("pong"))))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = <E, R>(
  handler: (connection: Connection<Inet>) => Effect.Effect<void, E, R>,
  options?: ServerOptions<Inet, NoInfer<E>>
): Layer.Layer<TcpServer, ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  layer(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs), handler, options)
