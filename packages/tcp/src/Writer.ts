/**
 * The writer of a connection: Async's `Writer`.
 *
 * `write` hands bytes to the socket at once and returns; written bytes reach the OS without an
 * explicit flush, at the latest at the end of the current event-loop turn (all the writes of one
 * turn leave in one syscall). `flushed` waits until everything written so far has been handed to
 * the OS.
 *
 * **Back-pressure.** A write suspends while more than `writerBufferSize` bytes wait for the OS.
 * A write interrupted while it waits for space queues nothing.
 *
 * **Ownership.** `write` does not copy: do not change an array after writing it until `flushed`
 * (as with Node's own `write`). Strings are UTF-8.
 *
 * **Errors.** A peer that went away (EPIPE, ECONNRESET) is `WriteError` `"ConsumerLeft"` on the
 * next write or flush, and completes `consumerLeft`. Bytes that wait unflushed longer than
 * `bufferAgeLimit` fail the writer with `"BufferAgeLimitExceeded"` and tear the connection down.
 * A value that is neither a `Uint8Array` nor a string (a JavaScript caller's mistake) fails with
 * `InvalidArgument` naming the argument, before anything is queued; the writer stays usable.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 *
 * const hello = Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 7000), (conn) =>
 *   Effect.zipRight(conn.writer.writeLine("hello"), conn.writer.flushed))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { hasProperty } from "effect/Predicate"
import * as Sink from "effect/Sink"
import { show } from "./internal/validate.js"
import * as internal from "./internal/writer.js"
import { InvalidArgument, type WriteError } from "./TcpError.js"

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
 * Whether a value is a connection's `Writer`.
 *
 * @example
 * ```ts
 * import { Writer } from "effect-tcp"
 *
 * console.log(Writer.isWriter({})) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isWriter = (u: unknown): u is Writer => hasProperty(u, TypeId)

/**
 * Options of a connection's writer, shared by `Tcp.connect` and `Server.make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriterOptions {
  /** Bytes that may wait for the OS before `write` suspends. Defaults to 130 KiB. */
  readonly writerBufferSize?: number | undefined
  /** How long bytes may wait unflushed before the connection is torn down. Defaults to 2 minutes. */
  readonly bufferAgeLimit?: Duration.DurationInput | "unlimited" | undefined
  /** Bound on the final flush when the writer is closed; on expiry the socket is destroyed. Defaults to 30 seconds. */
  readonly closeTimeout?: Duration.DurationInput | undefined
}

/**
 * A connection's writer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writer {
  readonly [TypeId]: TypeId
  /**
   * Writes bytes or a UTF-8 string; suspends while more than `writerBufferSize` bytes wait.
   *
   * Interruption: a write interrupted while it waits for space queues none of its bytes.
   *
   * Fails with: `"ConsumerLeft"` (the peer went away), `"BufferAgeLimitExceeded"`, `"Closed"` (after `close`), `"Unknown"`;
   * `InvalidArgument` when `data` is neither a `Uint8Array` nor a string (nothing is queued).
   */
  write(data: Uint8Array | string): Effect.Effect<void, WriteError | InvalidArgument>
  /**
   * Writes `line` followed by LF, as `write` does.
   *
   * Fails with: `"ConsumerLeft"` (the peer went away), `"BufferAgeLimitExceeded"`, `"Closed"` (after `close`), `"Unknown"`;
   * `InvalidArgument` when `line` is not a string (nothing is queued).
   */
  writeLine(line: string): Effect.Effect<void, WriteError | InvalidArgument>
  /**
   * Completes when everything written so far has been handed to the OS.
   *
   * Interruption: stops the wait only; the written bytes still go out.
   *
   * Fails with: `"ConsumerLeft"` (the peer went away), `"BufferAgeLimitExceeded"`, `"Closed"` (after `close`), `"Unknown"`.
   */
  readonly flushed: Effect.Effect<void, WriteError>
  /**
   * Flushes (bounded by `closeTimeout`; on expiry the socket is destroyed), then sends FIN
   * (half-close: the reader keeps working). Idempotent; later writes fail with `"Closed"`.
   * Never fails: a writer that failed already is closed.
   *
   * Interruption: stops the wait only; the close goes on (flush, then FIN, or the socket is
   * destroyed when `closeTimeout` expires).
   */
  readonly close: Effect.Effect<void>
  /** Completes when the peer has gone away (EPIPE, ECONNRESET). */
  readonly consumerLeft: Effect.Effect<void>
  /**
   * A sink that writes every element, a whole chunk of the stream at a time; it does not close
   * the writer.
   *
   * Interruption: the elements already handed to the socket go out; the element that was
   * waiting for space and the rest of its chunk are not written.
   *
   * Fails with: `"ConsumerLeft"` (the peer went away), `"BufferAgeLimitExceeded"`, `"Closed"` (after `close`), `"Unknown"`;
   * `InvalidArgument` for an element that is neither a `Uint8Array` nor a string (nothing of its
   * chunk is written).
   */
  readonly sink: Sink.Sink<void, Uint8Array | string, never, WriteError | InvalidArgument>
  /** Bytes written so far (including those still waiting for the OS). */
  readonly bytesWritten: Effect.Effect<number>
  /** Bytes written and not yet handed to the OS. */
  readonly bytesToWrite: Effect.Effect<number>
  /** Whether the writer is closed or failed. */
  readonly isClosed: Effect.Effect<boolean>
}

const notAWriter = (writer: unknown): Effect.Effect<never, InvalidArgument> =>
  Effect.fail(
    new InvalidArgument({
      argument: "writer",
      message: `writer: expected a connection's Writer, got ${show(writer)}`
    })
  )

/**
 * Writes bytes or a string; see {@link Writer.write}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, WhereToConnect, Writer } from "effect-tcp"
 *
 * // A binary header and a text body; both wait only when the writer's buffer is full
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Effect.gen(function*() {
 *     yield* Writer.write(connection.writer, new Uint8Array([0x01, 0x00, 0x05]))
 *     yield* Writer.write(connection.writer, "hello")
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const write: {
  (data: Uint8Array | string): (writer: Writer) => Effect.Effect<void, WriteError | InvalidArgument>
  (writer: Writer, data: Uint8Array | string): Effect.Effect<void, WriteError | InvalidArgument>
} = dual(
  2,
  (writer: Writer, data: Uint8Array | string) => isWriter(writer) ? writer.write(data) : notAWriter(writer)
)

/**
 * Writes a line; see {@link Writer.writeLine}.
 *
 * @example
 * ```ts
 * import { Tcp, WhereToConnect, Writer } from "effect-tcp"
 *
 * // A Redis inline command (the line ends with LF)
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 6379), (connection) =>
 *   Writer.writeLine(connection.writer, "PING"))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const writeLine: {
  (line: string): (writer: Writer) => Effect.Effect<void, WriteError | InvalidArgument>
  (writer: Writer, line: string): Effect.Effect<void, WriteError | InvalidArgument>
} = dual(2, (writer: Writer, line: string) => isWriter(writer) ? writer.writeLine(line) : notAWriter(writer))

/**
 * Waits until everything written has been handed to the OS; see {@link Writer.flushed}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, WhereToConnect, Writer } from "effect-tcp"
 *
 * // Log only once the OS has the request
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Effect.gen(function*() {
 *     yield* Writer.writeLine(connection.writer, "SHUTDOWN")
 *     yield* Writer.flushed(connection.writer)
 *     yield* Effect.log("request sent")
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const flushed = (writer: Writer): Effect.Effect<void, WriteError | InvalidArgument> =>
  isWriter(writer) ? writer.flushed : notAWriter(writer)

/**
 * Flushes and half-closes; see {@link Writer.close}. Fails only with `InvalidArgument`, when
 * `writer` is not a `Writer`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader, Tcp, WhereToConnect, Writer } from "effect-tcp"
 *
 * // Send a request, half-close (the server sees end of stream), then read the whole answer
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Effect.gen(function*() {
 *     yield* Writer.write(connection.writer, "query\n")
 *     yield* Writer.close(connection.writer)
 *     return yield* Reader.readAll(connection.reader)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const close = (writer: Writer): Effect.Effect<void, InvalidArgument> =>
  isWriter(writer) ? writer.close : notAWriter(writer)

/**
 * A sink that writes every string it receives as a line (followed by LF): the counterpart of
 * `reader.lines`, so `reader.lines.pipe(Stream.run(Writer.lineSink(writer)))` copies lines with
 * their line breaks (`writer.sink` writes the strings as they are). The lines of one chunk leave
 * in one write. It does not close the writer.
 *
 * Fails with: `InvalidArgument` for an element that is not a string (nothing of its chunk is
 * written) or a `writer` that is not a `Writer`, the writer's `WriteError`s.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { type Address, type Connection, Writer } from "effect-tcp"
 *
 * // A line echo server's handler
 * const echo = (conn: Connection.Connection<Address.Inet>) => conn.reader.lines.pipe(Stream.run(Writer.lineSink(conn.writer)))
 * ```
 *
 * @since 0.2.0
 * @category sinks
 */
export const lineSink = (writer: Writer): Sink.Sink<void, string, never, WriteError | InvalidArgument> =>
  Sink.forEachChunk((lines: Chunk.Chunk<string>) =>
    Effect.suspend((): Effect.Effect<void, WriteError | InvalidArgument> => {
      if (!isWriter(writer)) return notAWriter(writer)
      let text = ""
      for (const line of lines) {
        if (typeof line !== "string") {
          return Effect.fail(
            new InvalidArgument({ argument: "line", message: `line: expected a string, got ${typeof line}` })
          )
        }
        text += line + "\n"
      }
      return text.length === 0 ? Effect.void : writer.write(text)
    })
  )
