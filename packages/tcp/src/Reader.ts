/**
 * The buffered reader of a connection: Async's `Reader`.
 *
 * Bytes go from the socket into the reader's buffer (bounded by `readerBufferSize`: when it is
 * full and no read is waiting, the socket is paused so the peer feels back-pressure) and out
 * through the operations below. End of stream is a value (`Option.none()`), not a failure.
 *
 * **Interruption.** A read that is interrupted or timed out while it waits consumes nothing:
 * every byte that had arrived stays buffered for the next read. The exceptions hand bytes out
 * before they complete: `readChunks` consumes each chunk it has handed to the handler, and a
 * pull of `stream` or `lines` consumes what it emitted (see each one).
 *
 * **Errors.** Every read fails with `ReadError`: `"Reset"` (the peer reset the connection),
 * `"Closed"` (the connection was released, or its socket closed), `"ReaderInUse"` (another read
 * is waiting) or `"Unknown"` (any other socket error); `readLine`, `lines` and `readUntil` also
 * with `"LineTooLong"`, `readExactly`, `peek`, `readAll` and `readChunks` with `"TooLarge"`,
 * `readExactly` also with `"UnexpectedEof"`, and every read with `"Timeout"` under
 * `readTimeout`. End of stream is not an error.
 *
 * **A bound or a timeout is not the end of the connection.** A read that fails with
 * `"LineTooLong"` or `"TooLarge"` (a bound: `maxLineLength`, `maxLength`, `maxReadLength`) or with
 * `"Timeout"` (`readTimeout`) consumes nothing, for every read operation alike: the bytes that
 * had arrived stay buffered (no more than the bound plus one chunk: the socket is paused again),
 * the reader is free for the next read, and the connection stays open. The program decides: skip
 * or drain the bytes and go on (`read(n)`), answer an error and close, or fail. A server handler
 * that fails with one of them ends its connection like any failure; the default `onHandlerError`
 * logs it at debug level as a peer that broke the protocol (see the `Server` module).
 *
 * **One read at a time.** A read started while another one is waiting fails with
 * `ReadError` `"ReaderInUse"` instead of interleaving bytes.
 *
 * **Speed.** When the buffer can answer, a read completes synchronously: no fiber, promise or
 * queue entry.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * const firstLine = Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 7000), (conn) =>
 *   conn.reader.readLine.pipe(Effect.map(Option.getOrElse(() => "<eof>"))))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/reader.js"
import type { InvalidArgument, ReadError } from "./TcpError.js"

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
 * Whether a value is a connection's `Reader`.
 *
 * @example
 * ```ts
 * import { Reader } from "effect-tcp"
 *
 * console.log(Reader.isReader({})) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isReader = (u: unknown): u is Reader => hasProperty(u, TypeId)

/**
 * Options of a connection's reader, shared by `Tcp.connect` and `Server.make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReaderOptions {
  /** Bytes the reader buffers before it pauses the socket. Defaults to 128 KiB. */
  readonly readerBufferSize?: number | undefined
  /** Longest line `readLine` and `lines` accept, without its end. Defaults to 1 MiB; `Infinity` allowed. */
  readonly maxLineLength?: number | undefined
  /**
   * The most bytes one read may need to buffer: `readExactly(n)` and `peek(n)` with a larger `n`
   * fail with `"TooLarge"` before buffering anything; `readAll`, `readUntil` (without its own
   * `maxLength`) and the bytes a `readChunks` handler leaves unconsumed are bounded by it too.
   * Defaults to 1 MiB, as `maxLineLength`; `Infinity` allowed (then a peer decides how much is
   * held).
   *
   * @since 0.2.0
   */
  readonly maxReadLength?: number | undefined
  /**
   * The longest one read may wait for its answer, from its start: a whole line, `readExactly(n)`,
   * a `readUntil` record, one pull of `stream` or `lines`. Beyond it the read fails with
   * `ReadError` `"Timeout"`, consuming nothing. Unlike `idleTimeout` (reset by every byte), a
   * peer sending one byte a second cannot hold a read for ever (the slowloris defence of nginx's
   * `client_header_timeout` and Netty's `ReadTimeoutHandler`). Defaults to none.
   *
   * @since 0.2.0
   */
  readonly readTimeout?: Duration.DurationInput | undefined
}

/**
 * The result of `readUntil`: the bytes before the delimiter (`Found`), the bytes before the end
 * of stream when no delimiter came (`EofWithoutDelimiter`), or `Eof` when nothing was left.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadUntilResult =
  | { readonly _tag: "Found"; readonly bytes: Uint8Array }
  | { readonly _tag: "EofWithoutDelimiter"; readonly bytes: Uint8Array }
  | { readonly _tag: "Eof" }

/**
 * Options of `readUntil`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadUntilOptions {
  /** Include the delimiter at the end of `Found` bytes. Defaults to false. */
  readonly keepDelimiter?: boolean | undefined
  /**
   * Fail with `"LineTooLong"` when no delimiter appears within this many bytes. Defaults to the
   * reader's `maxReadLength` (1 MiB); `Infinity` allowed.
   */
  readonly maxLength?: number | undefined
}

/**
 * What a `readChunks` handler answers for a chunk: `Continue` (all consumed, go on),
 * `Consumed(n)` (n bytes consumed; call again with the rest once more bytes have arrived),
 * `Stop(value)` (all consumed, finish) or `StopConsumed(value, n)` (n consumed, finish). `n` is
 * an integer from 0 to the chunk's length; anything else (or an answer that is not a
 * `ChunkResult`) fails `readChunks` with `InvalidArgument`.
 *
 * @since 0.1.0
 * @category models
 */
export type ChunkResult<X> =
  | { readonly _tag: "Continue" }
  | { readonly _tag: "Consumed"; readonly n: number }
  | { readonly _tag: "Stop"; readonly value: X }
  | { readonly _tag: "StopConsumed"; readonly value: X; readonly n: number }

/**
 * How `readChunks` ended: the handler stopped, or the stream ended (with the bytes the handler
 * left unconsumed, if any).
 *
 * @since 0.1.0
 * @category models
 */
export type ChunksEnd<X> =
  | { readonly _tag: "Stopped"; readonly value: X }
  | { readonly _tag: "Eof" }
  | { readonly _tag: "EofWithUnconsumed"; readonly bytes: Uint8Array }

const continueResult: ChunkResult<never> = { _tag: "Continue" }

/**
 * The chunk was consumed entirely; go on with the next one. A shared constant: answering it
 * allocates nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Continue: ChunkResult<never> = continueResult

/**
 * `n` bytes of the chunk were consumed; the handler is called again, with the rest joined to the
 * bytes that arrive next.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Consumed = (n: number): ChunkResult<never> => ({ _tag: "Consumed", n })

/**
 * The chunk was consumed entirely and reading stops with `value`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Stop = <X>(value: X): ChunkResult<X> => ({ _tag: "Stop", value })

/**
 * `n` bytes of the chunk were consumed and reading stops with `value`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const StopConsumed = <X>(value: X, n: number): ChunkResult<X> => ({ _tag: "StopConsumed", value, n })

/**
 * A connection's buffered reader.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reader {
  readonly [TypeId]: TypeId
  /**
   * Up to `maxBytes` buffered bytes (default: all); waits when none are buffered. `none` at end
   * of stream. The array is the caller's: the reader never touches consumed bytes again (it is a
   * view of the received chunk when the bytes lie in one and fill at least half of it, else a
   * copy).
   *
   * Fails with: `InvalidArgument` when `maxBytes` is not a non-negative integer (nothing is
   * consumed); `ReadError` `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  read(): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /**
   * Up to `maxBytes` buffered bytes, as a copy; see the form without `maxBytes`.
   *
   * Fails with: `InvalidArgument` when `maxBytes` is not a non-negative integer (nothing is
   * consumed); `ReadError` `"Reset"`, `"ReaderInUse"`, `"Closed"`.
   */
  read(maxBytes?: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  /**
   * One byte; `none` at end of stream.
   *
   * Fails with: `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly readByte: Effect.Effect<Option.Option<number>, ReadError>
  /**
   * One UTF-8 code point (an invalid sequence is U+FFFD); `none` at end of stream.
   *
   * Fails with: `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly readChar: Effect.Effect<Option.Option<string>, ReadError>
  /**
   * The next line, UTF-8 decoded (invalid bytes become U+FFFD), without its LF or CRLF. An
   * unterminated last line is returned as is; `none` only when nothing was left. A line longer
   * than `maxLineLength` fails with `"LineTooLong"` and is left in the buffer: the connection
   * stays usable (see "A bound or a timeout" in the module's docs), as after `"Timeout"`.
   *
   * Fails with: `"LineTooLong"`, `"Timeout"`, `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly readLine: Effect.Effect<Option.Option<string>, ReadError>
  /**
   * The bytes up to `delimiter` (consumed, and dropped unless `keepDelimiter`).
   *
   * Fails with: `ReadError` `"LineTooLong"` when no delimiter comes within `maxLength` (default
   * `maxReadLength`; `limit` says which), consuming nothing and leaving the connection usable (as
   * `"Timeout"` does); `"Reset"`, `"Closed"`,
   * `"ReaderInUse"`, `"Unknown"`; `InvalidArgument` for a delimiter that is not a string or
   * bytes, or a `maxLength` that is not a non-negative integer or `Infinity`.
   */
  readUntil(
    delimiter: string | Uint8Array,
    options?: ReadUntilOptions
  ): Effect.Effect<ReadUntilResult, ReadError | InvalidArgument>
  /**
   * Exactly `n` bytes (Async's `really_read`). When the stream ends first, fails with
   * `"UnexpectedEof"` carrying the bytes that did arrive in `partial` (those are consumed).
   *
   * Fails with: `ReadError` `"TooLarge"` (`limit: "maxReadLength"`) when `n` is above
   * `maxReadLength`, before anything is buffered (a hostile length prefix cannot make the
   * reader hold more); `InvalidArgument` when `n` is not a non-negative integer (in both cases
   * nothing is consumed and the connection stays usable); `"Timeout"` (consuming nothing either);
   * `"UnexpectedEof"`, `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readExactly(n: number): Effect.Effect<Uint8Array, ReadError | InvalidArgument>
  /**
   * Exactly `n` bytes without consuming them; `none` when the stream ends first.
   *
   * Fails with: as `readExactly` (`"TooLarge"` above `maxReadLength`, `InvalidArgument`,
   * `"Timeout"`: nothing consumed, the connection usable); `"Reset"`, `"Closed"`, `"ReaderInUse"`,
   * `"Unknown"`.
   */
  peek(n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  /**
   * Everything up to the end of stream (not bounded by `readerBufferSize`, but by
   * `maxReadLength`: a longer stream fails with `"TooLarge"`, consuming nothing).
   *
   * Interruption: nothing is consumed; the bytes gathered so far stay buffered.
   *
   * Fails with: `"TooLarge"`, `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly readAll: Effect.Effect<Uint8Array, ReadError>
  /**
   * Hands each buffered chunk to `handle` without copying (Async's
   * `read_one_chunk_at_a_time`). The chunk is a view of the buffer, valid only during the call.
   *
   * Interruption: every chunk already handed to `handle` is consumed (as far as its answer
   * said); interrupted while waiting for more bytes, it consumes nothing more.
   *
   * Fails with: `InvalidArgument` when `handle` is not a function, answers something that is
   * not a `ChunkResult`, or `Consumed(n)` / `StopConsumed(v, n)` with `n` not an integer from 0
   * to the chunk's length (that chunk is not consumed); `ReadError` `"TooLarge"` when the
   * handler keeps asking for more while more than `maxReadLength` bytes are unconsumed;
   * `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readChunks<X>(handle: (chunk: Uint8Array) => ChunkResult<X>): Effect.Effect<ChunksEnd<X>, ReadError | InvalidArgument>
  /**
   * Hands the complete lines buffered to `handle`, a batch at a time (as `readLine` decodes them):
   * the fast way to consume many lines. `n` in the handler's answer counts lines: `Continue` (all
   * consumed), `Consumed(n)` (call again with the rest and the next lines once more bytes have
   * arrived), `Stop(value)`, `StopConsumed(value, n)` (the lines after the first `n` stay
   * buffered for the next read). Lines are limited by `maxLineLength` as in `readLine`.
   *
   * Interruption: every batch already handed to `handle` is consumed (as far as its answer
   * said); interrupted while waiting for more bytes, it consumes nothing more.
   *
   * Fails with: `"LineTooLong"` (after the lines before the long one were handed over),
   * `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readLineChunks<X>(
    handle: (lines: ReadonlyArray<string>) => ChunkResult<X>
  ): Effect.Effect<ChunksEnd<X>, ReadError | InvalidArgument>
  /**
   * The bytes as a stream, ending at end of stream. Each pull emits everything buffered (the
   * chunks as received, not copied); the stream consumes exactly what it emits.
   *
   * Interruption: what a pull has emitted is consumed; a pull interrupted while waiting
   * consumes nothing.
   *
   * Fails with: `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /**
   * The lines as a stream (as `readLine`). Each pull emits every complete line buffered; a
   * combinator that drops part of an emitted chunk (`Stream.take`) drops those lines with it:
   * `readLine` is the exact one-at-a-time form.
   *
   * Interruption: the lines a pull has emitted are consumed; a pull interrupted while waiting
   * consumes nothing.
   *
   * Fails with: `"LineTooLong"`, `"Reset"`, `"Closed"`, `"ReaderInUse"`, `"Unknown"`.
   */
  readonly lines: Stream.Stream<string, ReadError>
  /** Bytes received from the socket so far. */
  readonly bytesRead: Effect.Effect<number>
  /** Bytes received and not yet consumed. */
  readonly bytesBuffered: Effect.Effect<number>
  /** Whether the stream has ended and every byte has been consumed. */
  readonly isAtEof: Effect.Effect<boolean>
}

/**
 * The next line of `reader`; see {@link Reader.readLine}.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // The greeting line of an SMTP server, or a note that it closed at once
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 25), (connection) =>
 *   Reader.readLine(connection.reader).pipe(
 *     Effect.flatMap(Option.match({
 *       onNone: () => Effect.log("closed before greeting"),
 *       onSome: (line) => Effect.log(`greeting: ${line}`)
 *     }))
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readLine = (reader: Reader): Effect.Effect<Option.Option<string>, ReadError> => reader.readLine

/**
 * Up to `maxBytes` bytes; see {@link Reader.read}.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Whatever arrives first, at most 4 KiB (none at end of stream)
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Reader.read(connection.reader, 4096).pipe(
 *     Effect.map(Option.match({ onNone: () => 0, onSome: (chunk) => chunk.length }))
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const read: {
  (maxBytes?: number): (reader: Reader) => Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  (reader: Reader, maxBytes?: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
} = dual(
  (args) => isReader(args[0]),
  (reader: Reader, maxBytes?: number) => reader.read(maxBytes)
)

/**
 * Exactly `n` bytes; see {@link Reader.readExactly}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // A 4-byte big-endian length, then that many bytes
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Effect.gen(function*() {
 *     const header = yield* Reader.readExactly(connection.reader, 4)
 *     const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
 *     return yield* Reader.readExactly(connection.reader, length)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readExactly: {
  (n: number): (reader: Reader) => Effect.Effect<Uint8Array, ReadError | InvalidArgument>
  (reader: Reader, n: number): Effect.Effect<Uint8Array, ReadError | InvalidArgument>
} = dual(2, (reader: Reader, n: number) => reader.readExactly(n))

/**
 * The bytes up to a delimiter; see {@link Reader.readUntil}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // A NUL-terminated string (STOMP frames end this way)
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 61613), (connection) =>
 *   Reader.readUntil(connection.reader, new Uint8Array([0])).pipe(
 *     Effect.map((result) => result._tag === "Found" ? new TextDecoder().decode(result.bytes) : undefined)
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readUntil: {
  (
    delimiter: string | Uint8Array,
    options?: ReadUntilOptions
  ): (reader: Reader) => Effect.Effect<ReadUntilResult, ReadError | InvalidArgument>
  (
    reader: Reader,
    delimiter: string | Uint8Array,
    options?: ReadUntilOptions
  ): Effect.Effect<ReadUntilResult, ReadError | InvalidArgument>
} = dual(
  (args) => isReader(args[0]),
  (reader: Reader, delimiter: string | Uint8Array, options?: ReadUntilOptions) => reader.readUntil(delimiter, options)
)

/**
 * `n` bytes without consuming them; see {@link Reader.peek}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Look at the first byte to choose a protocol; the reader still holds it for the parser
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Reader.peek(connection.reader, 1).pipe(
 *     Effect.map((first) => first._tag === "Some" && first.value[0] === 0x16 ? "tls" : "plain")
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const peek: {
  (n: number): (reader: Reader) => Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  (reader: Reader, n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
} = dual(2, (reader: Reader, n: number) => reader.peek(n))

/**
 * Everything up to the end of stream; see {@link Reader.readAll}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // An HTTP/1.0 response: the server closes the connection when it is done
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("example.org", 80), (connection) =>
 *   Effect.gen(function*() {
 *     yield* connection.writer.write("GET / HTTP/1.0\r\nHost: example.org\r\n\r\n")
 *     const body = yield* Reader.readAll(connection.reader)
 *     return new TextDecoder().decode(body)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readAll = (reader: Reader): Effect.Effect<Uint8Array, ReadError> => reader.readAll

/**
 * Hands batches of complete lines to `handle` until it stops or the stream ends; see
 * {@link Reader.readLineChunks}.
 *
 * Each batch is every complete line buffered when it is called: one UTF-8 decode and one split
 * per received chunk, no effect and no allocation per line. Bytes not yet ending a line stay
 * buffered. At end of stream the unterminated last line is the last line of the last batch.
 *
 * Interruption: lines handed to `handle` are consumed by its answer; an interrupted wait
 * consumes nothing.
 *
 * Fails with: `"LineTooLong"` (a line longer than `maxLineLength`, after the lines before it have
 * been handed over), `"Reset"`, `"Closed"`, `"ReaderInUse"`; `InvalidArgument` when `handle` is
 * not a function or answers something that is not a `ChunkResult` (or an `n` out of range).
 *
 * **Example**
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Reader } from "effect-tcp"
 *
 * // Counts lines up to an empty one, which is consumed; what follows stays buffered.
 * const countUntilBlank = (reader: Reader.Reader) => {
 *   let count = 0
 *   return Effect.map(
 *     Reader.readLineChunks(reader, (lines) => {
 *       for (let i = 0; i < lines.length; i++) {
 *         if (lines[i] === "") return Reader.StopConsumed(count, i + 1)
 *         count++
 *       }
 *       return Reader.Continue
 *     }),
 *     (end) => (end._tag === "Stopped" ? end.value : count)
 *   )
 * }
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const readLineChunks: {
  <X>(
    handle: (lines: ReadonlyArray<string>) => ChunkResult<X>
  ): (reader: Reader) => Effect.Effect<ChunksEnd<X>, ReadError | InvalidArgument>
  <X>(
    reader: Reader,
    handle: (lines: ReadonlyArray<string>) => ChunkResult<X>
  ): Effect.Effect<ChunksEnd<X>, ReadError | InvalidArgument>
} = dual(
  2,
  <X>(reader: Reader, handle: (lines: ReadonlyArray<string>) => ChunkResult<X>) => reader.readLineChunks(handle)
)

/**
 * The lines of `reader` as a stream; see {@link Reader.lines}.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Reader, Server, WhereToListen } from "effect-tcp"
 *
 * // Log every line a client sends, until it closes its side
 * const server = Server.serve(WhereToListen.onPort(7000), (connection) =>
 *   Reader.lines(connection.reader).pipe(Stream.runForEach((line) => Effect.log(line))))
 * ```
 *
 * @since 0.1.0
 * @category streams
 */
export const lines = (reader: Reader): Stream.Stream<string, ReadError> => reader.lines

/**
 * The bytes of `reader` as a stream; see {@link Reader.stream}.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Reader, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Count the bytes a server sends before it closes
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Reader.stream(connection.reader).pipe(Stream.runFold(0, (total, chunk) => total + chunk.length)))
 * ```
 *
 * @since 0.1.0
 * @category streams
 */
export const stream = (reader: Reader): Stream.Stream<Uint8Array, ReadError> => reader.stream

/**
 * The result of `readUntilString`: as {@link ReadUntilResult}, with the bytes decoded as UTF-8
 * (an invalid sequence is U+FFFD).
 *
 * @since 0.2.0
 * @category models
 */
export type ReadUntilStringResult =
  | { readonly _tag: "Found"; readonly text: string }
  | { readonly _tag: "EofWithoutDelimiter"; readonly text: string }
  | { readonly _tag: "Eof" }

const eofString: ReadUntilStringResult = { _tag: "Eof" }

const utf8 = (bytes: Uint8Array): string =>
  (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString("utf8")

/**
 * The text up to a delimiter, decoded as UTF-8: `readUntil` without a `TextDecoder` per use.
 *
 * Interruption: consumes nothing (as `readUntil`). Fails with: as {@link Reader.readUntil}
 * (`"LineTooLong"` past `maxLength`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reader } from "effect-tcp"
 *
 * // A NUL-terminated string
 * const cString = (reader: Reader.Reader) =>
 *   Effect.map(Reader.readUntilString(reader, "\0", { maxLength: 4096 }), (r) => r._tag === "Eof" ? undefined : r.text)
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const readUntilString: {
  (
    delimiter: string | Uint8Array,
    options?: ReadUntilOptions
  ): (reader: Reader) => Effect.Effect<ReadUntilStringResult, ReadError>
  (
    reader: Reader,
    delimiter: string | Uint8Array,
    options?: ReadUntilOptions
  ): Effect.Effect<ReadUntilStringResult, ReadError>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && TypeId in args[0],
  (reader: Reader, delimiter: string | Uint8Array, options?: ReadUntilOptions) =>
    Effect.map(
      reader.readUntil(delimiter, options),
      (result): ReadUntilStringResult =>
        result._tag === "Eof" ? eofString : { _tag: result._tag, text: utf8(result.bytes) }
    )
)
