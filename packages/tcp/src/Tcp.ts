/**
 * Connecting: Async's `Tcp.connect`, `connect_sock` and `with_connection`.
 *
 * Connections are scoped resources: closing the scope closes the writer first (flushing what
 * was written), then the reader, then the socket, and completes once the descriptor is closed.
 *
 * **Timeout and interruption.** `timeout` (10 s) bounds the handshakes; `interrupt` abandons the
 * attempt when it completes first. Both fail with `ConnectError` (`"Timeout"`, `"Interrupted"`).
 * Interrupting the fiber that connects stays an interruption, never a typed error. In every
 * case no socket is left open.
 *
 * **Addresses.** A host name is resolved at connect time by the `Resolver` service (the system
 * resolver unless a Layer provides another), bounded by `resolveTimeout`; its addresses are tried
 * in turn, IPv6 and IPv4 interleaved, within the one `timeout`, and a failure reports every
 * attempt. An IP literal is never sent to the resolver.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 *
 * const ping = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 6379), (conn) =>
 *   Effect.gen(function*() {
 *     yield* conn.writer.write("PING\r\n")
 *     return Option.getOrElse(yield* conn.reader.readLine, () => "")
 *   }), { timeout: "2 seconds" })
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import type { Address } from "./Address.js"
import type { Connection, SocketOptions, TcpSocket } from "./Connection.js"
import * as internal from "./internal/tcp.js"
import type { ReaderOptions } from "./Reader.js"
import type { ConnectError, InvalidArgument } from "./TcpError.js"
import type { ClientOptions as TlsClientOptions } from "./Tls.js"
import type { WhereToConnect } from "./WhereToConnect.js"
import type { WriterOptions } from "./Writer.js"

/**
 * Options of a connect: Async's `with_connect_options` plus the reader's and writer's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends ReaderOptions, WriterOptions, SocketOptions {
  /** Bound on the handshakes (all addresses tried). Defaults to 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Bound on name resolution. Defaults to 10 seconds. */
  readonly resolveTimeout?: Duration.DurationInput | undefined
  /** Abandons the attempt when this effect completes (or the signal aborts) before the connection is made. */
  readonly interrupt?: Effect.Effect<unknown, unknown> | AbortSignal | undefined
  /** An unconnected socket to connect (for the first address tried). */
  readonly socket?: net.Socket | undefined
  /** Resolve the host to this family only. */
  readonly family?: 4 | 6 | undefined
  /**
   * Connect over TLS (see the `Tls` module): the handshake is part of the connect, inside
   * `timeout`. A handshake failure is a `ConnectError` with reason `"CertificateUntrusted"`,
   * `"HostnameMismatch"`, `"CertificateExpired"` or `"HandshakeFailed"`, whose `cause` is a
   * `TlsError` with the OpenSSL code. Ignored by `connectSock`.
   */
  readonly tls?: TlsClientOptions | undefined
}

/**
 * Connects to `where` and returns the connection with its reader and writer, owned by the
 * current scope.
 *
 * Fails with: `ConnectError`; `InvalidArgument` for a bad `where` or option (an `options` that is
 * not an object included), before any socket is opened.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 *
 * // The connection closes (writer flushed first) when the scope closes.
 * const greeting = Effect.scoped(
 *   Effect.gen(function*() {
 *     const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", 7000), { timeout: "5 seconds" })
 *     yield* conn.writer.writeLine("HELLO")
 *     return yield* conn.reader.readLine
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
) => Effect.Effect<Connection<A>, ConnectError | InvalidArgument, Scope.Scope> = internal.connect

/**
 * Connects to `where` and returns the connected socket without reader or writer, owned by the
 * current scope (Async's `connect_sock`). With `options.socket`, that unconnected socket is used.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Where the OS bound the local end of a connection to a Unix socket.
 * const local = Effect.scoped(
 *   Effect.map(Tcp.connectSock(WhereToConnect.file("/tmp/app.sock")), (socket) => socket.localAddress)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectSock: <A extends Address>(
  where: WhereToConnect<A>,
  options?: ConnectOptions
) => Effect.Effect<TcpSocket<A>, ConnectError | InvalidArgument, Scope.Scope> = internal.connectSock

/**
 * Connects, runs `f` with the connection, then releases it (writer, reader, socket) whether `f`
 * succeeds, fails, dies or is interrupted. The result arrives after the descriptor is closed.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 *
 * const ask = (question: string) =>
 *   Tcp.withConnection(
 *     WhereToConnect.hostAndPort("localhost", 7000),
 *     (conn) => Effect.zipRight(conn.writer.writeLine(question), conn.reader.readLine)
 *   ).pipe(Effect.map(Option.getOrElse(() => "")))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withConnection: <A extends Address, X, E, R>(
  where: WhereToConnect<A>,
  f: (connection: Connection<A>) => Effect.Effect<X, E, R>,
  options?: ConnectOptions
) => Effect.Effect<X, E | ConnectError | InvalidArgument, Exclude<R, Scope.Scope>> = internal.withConnection
