/**
 * Copying bytes between connections, as a proxy does: tokio's `copy` and `copy_bidirectional`.
 *
 * @since 0.2.0
 * @module
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/copy.js"
import type { Reader } from "./Reader.js"
import type { InvalidArgument, ReadError, WriteError } from "./TcpError.js"
import type { Writer } from "./Writer.js"

/**
 * What a copy needs of a connection: its reader and writer (any `Connection`, client or server
 * side, TCP or Unix).
 *
 * @since 0.2.0
 * @category models
 */
export interface Ends {
  readonly reader: Reader
  readonly writer: Writer
}

/**
 * The bytes a bidirectional copy moved: from `a` to `b`, and from `b` to `a`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Copied {
  readonly aToB: number
  readonly bToA: number
}

/**
 * Copies everything `reader` receives to `writer` until the end of stream, and returns the number
 * of bytes copied. Does not close the writer. Back-pressure: while `writer` is full nothing more
 * is read, so the reader's buffer fills and its socket is paused.
 *
 * Interruption: stops at once; a chunk read but not yet written is dropped.
 *
 * Fails with: the reader's `ReadError`s, the writer's `WriteError`s, `InvalidArgument` for
 * something that is not a Reader or a Writer.
 *
 * @example
 * ```ts
 * import { Copy, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Send a connection's bytes to another one
 * const forward = Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 7000), (from) =>
 *   Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 7001), (to) => Copy.copy(from.reader, to.writer)))
 * ```
 *
 * @since 0.2.0
 * @category copying
 */
export const copy: (reader: Reader, writer: Writer) => Effect.Effect<number, ReadError | WriteError | InvalidArgument> =
  internal.copy

/**
 * Copies bytes both ways between two connections until both directions have ended, and returns
 * the counts: tokio's `copy_bidirectional`. When one side ends its stream (FIN), what was copied
 * is flushed and the other side's writer is closed (FIN), and the other direction goes on: a
 * half-close travels through. Back-pressure on both directions.
 *
 * The connections stay open afterwards: they belong to the scopes that made them (a server
 * handler's, `Tcp.withConnection`'s), which close them.
 *
 * Interruption: both directions stop at once; bytes read but not yet written are dropped.
 *
 * Fails with: the first `ReadError` (`"Reset"` when a peer reset) or `WriteError`
 * (`"ConsumerLeft"`) of either direction; the other direction is interrupted. `InvalidArgument`
 * for arguments that are not connections, or the same connection twice.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BindToAddress, BindToPort, Copy, Server, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"
 *
 * // A TCP proxy: every client is connected to 127.0.0.1:6379
 * const proxy = Server.make(
 *   WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(7000)),
 *   (client) =>
 *     Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 6379), (upstream) =>
 *       Effect.asVoid(Copy.bidirectional(client, upstream)))
 * )
 * ```
 *
 * @since 0.2.0
 * @category copying
 */
export const bidirectional: (a: Ends, b: Ends) => Effect.Effect<Copied, ReadError | WriteError | InvalidArgument> =
  internal.bidirectional
