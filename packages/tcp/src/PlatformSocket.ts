/**
 * effect-tcp connections as `@effect/platform` sockets (`Socket.Socket` from
 * `@effect/platform/Socket`), so code written against that interface (the socket protocols of
 * `@effect/rpc`, `Socket.toChannel`, …) runs over effect-tcp unchanged.
 *
 * The adapters behave as `@effect/platform-node`'s `NodeSocket` does:
 *
 * - `run(handler)` hands every received chunk to `handler` (a fresh `Uint8Array` the handler may
 *   keep); effects the handler returns are forked, in order, into a `FiberSet` owned by the run,
 *   and the first of them to fail fails the run. The run succeeds when the peer ends the stream
 *   (FIN), fails with `SocketCloseError` (code 1000) when the connection is closed locally, with
 *   `SocketCloseError` carrying the code and reason of a `CloseEvent` written to the socket, and
 *   with `SocketGenericError` `"Read"` on a reset or another read error. `onOpen` runs once the
 *   run is reading. `runRaw` is `run` (a TCP stream never delivers strings).
 * - `writer` gives a write function, valid in the current scope, that takes bytes, a UTF-8
 *   string or a `CloseEvent`. Closing that scope half-closes the connection (flush, then FIN).
 *   Writing a `CloseEvent` ends the runs in progress with `SocketCloseError` (its code and
 *   reason) and half-closes the connection.
 *
 * **Back-pressure.** Bytes come from the connection's `Reader`: the socket is paused while the
 * reader's buffer is full, and `run` takes chunks as fast as the handler returns. A write
 * suspends while more than `writerBufferSize` bytes wait for the OS (it does not wait for each
 * write to be flushed, so consecutive writes leave in one syscall); a write error is a
 * `SocketGenericError` `"Write"` whose cause is the `WriteError`.
 *
 * **Interruption.** Interrupting `run` stops reading and interrupts the handler's forked
 * effects; bytes not yet handed to the handler stay in the reader.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect, Layer } from "effect"
 * import { WhereToConnect } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * // Any code that needs a Socket.Socket, here over a Unix socket
 * const hello = Effect.gen(function*() {
 *   const socket = yield* Socket.Socket
 *   const write = yield* socket.writer
 *   yield* write("hello\n")
 *   yield* socket.run((bytes) => console.log(new TextDecoder().decode(bytes)))
 * }).pipe(Effect.scoped, Effect.provide(PlatformSocket.layer(WhereToConnect.file("/run/app.sock"))))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Socket from "@effect/platform/Socket"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Address } from "./Address.js"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/platformSocket.js"
import type { ConnectOptions } from "./Tcp.js"
import type { ConnectError, InvalidArgument } from "./TcpError.js"
import type { WhereToConnect } from "./WhereToConnect.js"

/**
 * Sees an open connection as a `Socket.Socket`, reading through its reader and writing through
 * its writer.
 *
 * The connection stays owned by whoever opened it: the socket neither opens nor closes it,
 * except that releasing the scope of `socket.writer` (or writing a `CloseEvent`) half-closes it.
 * One `run` at a time: a second concurrent run fails with `SocketGenericError` `"Read"` (the
 * reader's `"ReaderInUse"`). After the stream has ended, a new `run` ends at once.
 *
 * A JavaScript caller's wrong argument is a `SocketGenericError` whose `cause` is the
 * `InvalidArgument`: `"Open"` from `run` and from writes when `connection` is not a
 * `Connection`; `"Read"` from `run` when its handler is not a function (nothing is read);
 * `"Write"` for a chunk that is neither bytes, a string nor a `CloseEvent` (nothing is written).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * // An echo server written against @effect/platform's Socket interface
 * const echo = Server.serve(WhereToListen.onPort(7000), (conn) =>
 *   Effect.gen(function*() {
 *     const socket = PlatformSocket.fromConnection(conn)
 *     const write = yield* socket.writer
 *     yield* socket.run(write)
 *   }).pipe(Effect.scoped, Effect.orDie))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConnection: <A extends Address>(connection: Connection<A>) => Socket.Socket = internal.fromConnection

/**
 * Connects to `where` and returns a `Socket.Socket` over the connection, owned by the current
 * scope. The first connection is made at once, so a target that cannot be reached fails here
 * with `ConnectError`.
 *
 * As with `NodeSocket.makeNet`, each `run` uses a connection of its own: the connection is
 * released (writer, reader, socket) when the run that used it ends, and the next `run` dials
 * again (a failure to connect then fails that run with `SocketGenericError` `"Open"` whose cause
 * is the `ConnectError`). Writes wait while no connection is open. This is what lets
 * `RpcClient.layerProtocolSocket` reconnect after the server went away.
 *
 * Releasing the scope closes the open connection (a run reading from it ends with
 * `SocketCloseError` 1000); after that, `run` and writes fail with `SocketCloseError` 1000
 * instead of dialing or waiting. Interrupting a `run` releases its connection.
 *
 * Fails with: `ConnectError` when the first connection cannot be made, `InvalidArgument` for a
 * bad `where` or bad options.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WhereToConnect } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * // Send one line and print what comes back until the server closes the connection.
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socket = yield* PlatformSocket.make(WhereToConnect.hostAndPort("localhost", 7000), { timeout: "2 seconds" })
 *   const write = yield* socket.writer
 *   yield* write("PING\r\n")
 *   yield* socket.run((bytes) => console.log(new TextDecoder().decode(bytes)))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
) => Effect.Effect<Socket.Socket, ConnectError | InvalidArgument, Scope.Scope> = internal.make

/**
 * As {@link make}, but nothing is dialed until the first `run`: the lazy form of
 * `NodeSocket.makeNet`. Every `run` dials its own connection (released when the run ends); a
 * dial that fails (refused, timed out after `timeout`, host not found, …) fails that run with
 * `SocketGenericError` `"Open"` whose cause is the `ConnectError`, so code built on
 * `Socket.Socket` treats it as a transient socket error (`@effect/rpc`'s socket protocol
 * retries; `@effect/cluster` marks the runner unavailable) rather than a defect. Writes wait
 * while no connection is open.
 *
 * Every connection belongs to the scope this runs in, even when a fiber that outlives the scope
 * dialed it: releasing the scope closes it, ending a run reading from it (or a dial in progress)
 * with `SocketCloseError` 1000, and any later `run` or write fails with that error instead of
 * dialing again or waiting. Interrupting a `run` (or its dial) releases its connection.
 *
 * Fails with: `InvalidArgument` for a bad `where` or bad options (checked when this runs).
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect } from "effect"
 * import { WhereToConnect } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * // Building this never fails with ConnectError: a server that is down fails the run instead.
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socket = yield* PlatformSocket.makeLazy(WhereToConnect.hostAndPort("localhost", 7000), { timeout: "1 second" })
 *   const result = yield* Effect.either(socket.run((bytes) => console.log(bytes.length)))
 *   if (result._tag === "Left" && Socket.isSocketError(result.left)) yield* Effect.log(`not up: ${result.left.reason}`)
 * }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeLazy: <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
) => Effect.Effect<Socket.Socket, InvalidArgument, Scope.Scope> = internal.makeLazy

/**
 * A Layer of `Socket.Socket` that dials `where` on the first `run` (see {@link makeLazy}).
 * Releasing the Layer closes any connection it dialed, even one held by a fiber that outlives
 * it (as `@effect/cluster`'s RPC clients do); runs and writes then fail with `SocketCloseError`.
 *
 * Fails with: `InvalidArgument` (bad arguments).
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect } from "effect"
 * import { WhereToConnect } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * // The program starts even while the server is down; each run dials again.
 * const program = Effect.gen(function*() {
 *   const socket = yield* Socket.Socket
 *   yield* socket.run((bytes) => console.log(bytes.length)).pipe(
 *     Effect.catchAll((error) => Effect.log(`connection ended: ${error.message}`))
 *   )
 * }).pipe(Effect.provide(PlatformSocket.layerLazy(WhereToConnect.hostAndPort("localhost", 7000))))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerLazy = <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
): Layer.Layer<Socket.Socket, InvalidArgument> => Layer.scoped(Socket.Socket, internal.makeLazy(where, options))

/**
 * A Layer of `Socket.Socket` connected to `where` (see {@link make}): building it connects (and
 * fails with `ConnectError` when that fails), releasing it closes the connection.
 *
 * @example
 * ```ts
 * import * as RpcClient from "@effect/rpc/RpcClient"
 * import * as RpcSerialization from "@effect/rpc/RpcSerialization"
 * import { Layer } from "effect"
 * import { WhereToConnect } from "effect-tcp"
 * import * as PlatformSocket from "effect-tcp/PlatformSocket"
 *
 * const ClientProtocol = RpcClient.layerProtocolSocket().pipe(
 *   Layer.provide(PlatformSocket.layer(WhereToConnect.hostAndPort("localhost", 7000))),
 *   Layer.provide(RpcSerialization.layerNdjson)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
): Layer.Layer<Socket.Socket, ConnectError | InvalidArgument> =>
  Layer.scoped(Socket.Socket, internal.make(where, options))
