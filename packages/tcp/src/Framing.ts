/**
 * Building blocks of binary protocols over a connection's `Reader` and `Writer`: exact reads that
 * tell a clean end of stream from a truncated message, integers of 8 to 64 bits in either byte
 * order, and length-delimited frames (tokio-util's `LengthDelimitedCodec`, Netty's
 * `LengthFieldBasedFrameDecoder`).
 *
 * **Cancel safety.** Every read here is cancellation-safe as the Reader's are: a read that is
 * interrupted (or timed out) while it waits consumes nothing, so the bytes of a partly received
 * frame stay buffered for the next read.
 *
 * **Bounds.** A frame's length is checked against `maxFrameLength` (1 MiB by default) as soon as
 * its header has arrived, before any of its body is waited for: a peer announcing a huge frame
 * gets `FrameError` `"FrameTooLong"` (with the announced length) and is never buffered for.
 *
 * **End of stream.** A read returns `Option.none()` when the stream ends cleanly between two
 * frames (or integers), and fails with `ReadError` `"UnexpectedEof"` (the bytes that did arrive
 * in `partial`) only when it ends inside one.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // 4-byte big-endian length, then the body: send one frame, read the reply
 * const request = Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", 7000), (conn) =>
 *   Effect.gen(function*() {
 *     yield* Framing.writeFrame(conn.writer, new TextEncoder().encode("ping"))
 *     const reply = yield* Framing.readFrame(conn.reader)
 *     return Option.map(reply, (bytes) => new TextDecoder().decode(bytes))
 *   }))
 * ```
 *
 * @since 0.2.0
 * @module
 */
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/framing.js"
import type { Reader } from "./Reader.js"
import type { FrameError, InvalidArgument, ReadError, WriteError } from "./TcpError.js"
import type { Writer } from "./Writer.js"

/**
 * Byte order of an integer or a length field. Defaults to `"big"` (network order) everywhere.
 *
 * @since 0.2.0
 * @category models
 */
export type Endian = "big" | "little"

/**
 * How frames are delimited, as tokio-util's `LengthDelimitedCodec` builder. On the wire a frame is
 * a header (`lengthFieldOffset` bytes, then the length field) followed by the body, whose length
 * is the field's value plus `lengthAdjustment`. A read returns the frame without its first
 * `numSkip` bytes (by default the whole header: just the body).
 *
 * A write takes a frame as a read returns it, computes the length field from the body, and puts
 * the header back in front; header bytes that a read strips and that are not the length field are
 * written as zeros (keep the header, `numSkip: 0`, to choose them).
 *
 * @since 0.2.0
 * @category models
 */
export interface LengthDelimitedOptions {
  /** Bytes before the length field. Defaults to 0. */
  readonly lengthFieldOffset?: number | undefined
  /** Bytes of the length field: 1, 2, 3, 4 or 8. Defaults to 4. */
  readonly lengthFieldLength?: 1 | 2 | 3 | 4 | 8 | undefined
  /** Byte order of the length field. Defaults to `"big"`. */
  readonly endian?: Endian | undefined
  /**
   * Added to the length field's value to get the number of bytes after the header (negative
   * when the field counts the header too, e.g. `-4` for a 4-byte field that includes itself).
   * Defaults to 0.
   */
  readonly lengthAdjustment?: number | undefined
  /** Bytes stripped from the front of each frame read, from 0 (keep the header) to the header's length (the default). */
  readonly numSkip?: number | undefined
  /**
   * Longest body (bytes after the header) accepted, read or written. Defaults to 1 MiB, the
   * reader's default `maxReadLength`: a frame that arrives in pieces is read whole (header and
   * body) by the reader, so a larger `maxFrameLength` needs a larger `maxReadLength` on the
   * connection too (else `ReadError` `"TooLarge"`).
   */
  readonly maxFrameLength?: number | undefined
}

/**
 * The default `maxFrameLength`: 1 MiB, the reader's default `maxReadLength` (tokio-util's is 8 MiB).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxFrameLength: number = internal.defaultMaxFrameLength

// -----------------------------------------------------------------------------------------------
// Exact reads

/**
 * Exactly `n` bytes, or `Option.none()` when the stream ends cleanly before the first of them:
 * the form of `readExactly` for reading a message that may or may not come.
 *
 * Interruption: consumes nothing.
 *
 * Fails with: `ReadError` `"UnexpectedEof"` when the stream ends after some but not all `n`
 * bytes (they are in `partial`), the reader's other `ReadError`s, `InvalidArgument` for a bad `n`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // Fixed 16-byte records until the peer stops sending
 * const records = (reader: Reader.Reader) =>
 *   Effect.iterate(0, {
 *     while: (n) => n >= 0,
 *     body: (n) => Effect.map(Framing.readExactlyOrNone(reader, 16), Option.match({ onNone: () => -1, onSome: () => n + 1 }))
 *   })
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const readExactlyOrNone: {
  (n: number): (reader: Reader) => Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  (reader: Reader, n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
} = dual(2, internal.readExactlyOrNone)

// -----------------------------------------------------------------------------------------------
// Integers

/**
 * The shape of the integer reads: `readUint16(reader, endian?)` or `readUint16(endian?)(reader)`.
 *
 * @since 0.2.0
 * @category models
 */
export type IntRead<A> = {
  (endian?: Endian): (reader: Reader) => Effect.Effect<A, ReadError | InvalidArgument>
  (reader: Reader, endian?: Endian): Effect.Effect<A, ReadError | InvalidArgument>
}

/**
 * The shape of the integer reads that return `none` at a clean end of stream.
 *
 * @since 0.2.0
 * @category models
 */
export type IntReadOrNone<A> = {
  (endian?: Endian): (reader: Reader) => Effect.Effect<Option.Option<A>, ReadError | InvalidArgument>
  (reader: Reader, endian?: Endian): Effect.Effect<Option.Option<A>, ReadError | InvalidArgument>
}

const isReaderFirst = (args: IArguments) => typeof args[0] === "object" && args[0] !== null

const intRead = <A>(format: Parameters<typeof internal.readInt<A>>[0]): IntRead<A> =>
  dual(isReaderFirst, (reader: Reader, endian?: Endian) => internal.readInt(format, reader, endian))

const intReadOrNone = <A>(format: Parameters<typeof internal.readInt<A>>[0]): IntReadOrNone<A> =>
  dual(isReaderFirst, (reader: Reader, endian?: Endian) => internal.readIntOrNone(format, reader, endian))

/**
 * An unsigned 8-bit integer.
 *
 * Interruption: consumes nothing. Fails with: `ReadError` `"UnexpectedEof"` at end of stream, the
 * reader's other `ReadError`s.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A message type byte
 * const read = (reader: Reader.Reader) => Framing.readUint8(reader)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint8: IntRead<number> = intRead(internal.uint8)

/**
 * A signed (two's complement) 8-bit integer. Interruption and failures as {@link readUint8}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A signed offset (-128 to 127)
 * const read = (reader: Reader.Reader) => Framing.readInt8(reader)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readInt8: IntRead<number> = intRead(internal.int8)

/**
 * An unsigned 16-bit integer, big-endian unless `endian` says `"little"`.
 *
 * Interruption: consumes nothing (a half-arrived integer stays buffered). Fails with: `ReadError`
 * `"UnexpectedEof"` when the stream ends first (even cleanly: see {@link readUint16OrNone}),
 * the reader's other `ReadError`s, `InvalidArgument` for a bad `endian`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A little-endian 16-bit count, then that many 32-bit big-endian values
 * const values = (reader: Reader.Reader) =>
 *   Effect.flatMap(Framing.readUint16(reader, "little"), (n) =>
 *     Effect.forEach(Array.from({ length: n }), () => Framing.readUint32(reader)))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint16: IntRead<number> = intRead(internal.uint16)

/**
 * A signed 16-bit integer. Interruption and failures as {@link readUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A signed 16-bit temperature in tenths of a degree, little-endian
 * const read = (reader: Reader.Reader) => Framing.readInt16(reader, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readInt16: IntRead<number> = intRead(internal.int16)

/**
 * An unsigned 32-bit integer. Interruption and failures as {@link readUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A 32-bit big-endian length (network order, the default)
 * const read = (reader: Reader.Reader) => Framing.readUint32(reader)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint32: IntRead<number> = intRead(internal.uint32)

/**
 * A signed 32-bit integer. Interruption and failures as {@link readUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A signed 32-bit little-endian delta
 * const read = (reader: Reader.Reader) => Framing.readInt32(reader, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readInt32: IntRead<number> = intRead(internal.int32)

/**
 * An unsigned 64-bit integer, as a `bigint`. Interruption and failures as {@link readUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A 64-bit big-endian sequence number, as a bigint
 * const read = (reader: Reader.Reader) => Framing.readUint64(reader)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint64: IntRead<bigint> = intRead(internal.uint64)

/**
 * A signed 64-bit integer, as a `bigint`. Interruption and failures as {@link readUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A signed 64-bit little-endian timestamp in microseconds, as a bigint
 * const read = (reader: Reader.Reader) => Framing.readInt64(reader, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readInt64: IntRead<bigint> = intRead(internal.int64)

/**
 * An unsigned 8-bit integer, or `none` at a clean end of stream.
 *
 * Interruption: consumes nothing. Fails with: the reader's `ReadError`s.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A record's type byte, or none when the peer ended cleanly between records
 * const next = (reader: Reader.Reader) =>
 *   Framing.readUint8OrNone(reader).pipe(Effect.map(Option.match({ onNone: () => "done", onSome: (n) => `record ${n}` })))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint8OrNone: IntReadOrNone<number> = intReadOrNone(internal.uint8)

/**
 * An unsigned 16-bit integer, or `none` when the stream ends cleanly before its first byte.
 *
 * Interruption: consumes nothing. Fails with: `ReadError` `"UnexpectedEof"` when the stream ends
 * after its first byte, the reader's other `ReadError`s, `InvalidArgument` for a bad `endian`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A 16-bit length before each record, or none at a clean end between records
 * const next = (reader: Reader.Reader) =>
 *   Framing.readUint16OrNone(reader).pipe(Effect.map(Option.match({ onNone: () => "done", onSome: (n) => `record ${n}` })))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint16OrNone: IntReadOrNone<number> = intReadOrNone(internal.uint16)

/**
 * An unsigned 32-bit integer, or `none` at a clean end of stream. As {@link readUint16OrNone}.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A 32-bit length before each record, or none at a clean end between records
 * const next = (reader: Reader.Reader) =>
 *   Framing.readUint32OrNone(reader).pipe(Effect.map(Option.match({ onNone: () => "done", onSome: (n) => `record ${n}` })))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint32OrNone: IntReadOrNone<number> = intReadOrNone(internal.uint32)

/**
 * An unsigned 64-bit integer (`bigint`), or `none` at a clean end of stream. As
 * {@link readUint16OrNone}.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // A 64-bit record id, or none at a clean end between records
 * const next = (reader: Reader.Reader) =>
 *   Framing.readUint64OrNone(reader).pipe(Effect.map(Option.match({ onNone: () => "done", onSome: (n) => `record ${n}` })))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const readUint64OrNone: IntReadOrNone<bigint> = intReadOrNone(internal.uint64)

/**
 * The shape of the integer writes: `writeUint16(writer, value, endian?)` or
 * `writeUint16(value, endian?)(writer)`.
 *
 * @since 0.2.0
 * @category models
 */
export type IntWrite<A> = {
  (value: A, endian?: Endian): (writer: Writer) => Effect.Effect<void, WriteError | InvalidArgument>
  (writer: Writer, value: A, endian?: Endian): Effect.Effect<void, WriteError | InvalidArgument>
}

const isWriterFirst = (args: IArguments) => typeof args[0] === "object" && args[0] !== null

const intWrite = <A extends number | bigint>(kind: internal.IntKind): IntWrite<A> =>
  dual(isWriterFirst, (writer: Writer, value: A, endian?: Endian) => internal.writeInt(kind, writer, value, endian))

/**
 * Writes an unsigned 8-bit integer (0 to 255).
 *
 * Fails with: `InvalidArgument` when `value` is not an integer in range (nothing is written),
 * the writer's `WriteError`s.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A message type byte
 * const write = (writer: Writer.Writer) => Framing.writeUint8(writer, 7)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeUint8: IntWrite<number> = intWrite("uint8")

/**
 * Writes a signed 8-bit integer (-128 to 127). Failures as {@link writeUint8}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A signed offset (-128 to 127)
 * const write = (writer: Writer.Writer) => Framing.writeInt8(writer, -3)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeInt8: IntWrite<number> = intWrite("int8")

/**
 * Writes an unsigned 16-bit integer, big-endian unless `endian` says `"little"`.
 *
 * Fails with: `InvalidArgument` when `value` is not an integer from 0 to 65535 or `endian` is
 * not a byte order (nothing is written), the writer's `WriteError`s.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type Writer } from "effect-tcp"
 *
 * const header = (writer: Writer.Writer, kind: number, length: number) =>
 *   Effect.zipRight(Framing.writeUint8(writer, kind), Framing.writeUint32(writer, length, "little"))
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeUint16: IntWrite<number> = intWrite("uint16")

/**
 * Writes a signed 16-bit integer. Failures as {@link writeUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A signed 16-bit little-endian value
 * const write = (writer: Writer.Writer) => Framing.writeInt16(writer, -215, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeInt16: IntWrite<number> = intWrite("int16")

/**
 * Writes an unsigned 32-bit integer. Failures as {@link writeUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A 32-bit big-endian length (network order, the default)
 * const write = (writer: Writer.Writer) => Framing.writeUint32(writer, 1_048_576)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeUint32: IntWrite<number> = intWrite("uint32")

/**
 * Writes a signed 32-bit integer. Failures as {@link writeUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A signed 32-bit little-endian delta
 * const write = (writer: Writer.Writer) => Framing.writeInt32(writer, -42, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeInt32: IntWrite<number> = intWrite("int32")

/**
 * Writes an unsigned 64-bit integer given as a `bigint`. Failures as {@link writeUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A 64-bit big-endian sequence number (a bigint)
 * const write = (writer: Writer.Writer) => Framing.writeUint64(writer, 2n ** 40n)
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeUint64: IntWrite<bigint> = intWrite("uint64")

/**
 * Writes a signed 64-bit integer given as a `bigint`. Failures as {@link writeUint16}.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * // A signed 64-bit little-endian timestamp in microseconds (a bigint)
 * const write = (writer: Writer.Writer) => Framing.writeInt64(writer, BigInt(Date.now()) * 1000n, "little")
 * ```
 *
 * @since 0.2.0
 * @category integers
 */
export const writeInt64: IntWrite<bigint> = intWrite("int64")

// -----------------------------------------------------------------------------------------------
// Length-delimited frames

/**
 * The next frame (a fresh array the caller may keep), or `Option.none()` when the stream ends
 * cleanly before it. See {@link LengthDelimitedOptions} for the layout.
 *
 * Interruption: consumes nothing; a partly received frame stays buffered.
 *
 * Fails with: `FrameError` `"FrameTooLong"` as soon as a header announces more than
 * `maxFrameLength` (nothing consumed, the body never waited for), `"InvalidLength"` for a
 * negative adjusted length; `ReadError` `"UnexpectedEof"` when the stream ends inside a frame,
 * the reader's other `ReadError`s; `InvalidArgument` for bad options.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framing, type Reader } from "effect-tcp"
 *
 * // 2-byte little-endian length that counts itself, header kept, at most 64 KiB
 * const options: Framing.LengthDelimitedOptions = {
 *   lengthFieldLength: 2, endian: "little", lengthAdjustment: -2, numSkip: 0, maxFrameLength: 65536
 * }
 * const next = (reader: Reader.Reader) => Effect.map(Framing.readFrame(reader, options), Option.getOrNull)
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const readFrame: {
  (
    options?: LengthDelimitedOptions
  ): (reader: Reader) => Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument>
  (
    reader: Reader,
    options?: LengthDelimitedOptions
  ): Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument>
} = dual(isReaderFirst, (reader: Reader, options?: LengthDelimitedOptions) => internal.readFrame(reader, options))

/**
 * The frames as a stream (each a fresh array), ending at a clean end of stream. Each pull emits
 * every complete frame of the reader's first buffered chunk at once.
 *
 * Interruption: the frames not yet emitted stay buffered.
 *
 * Fails with: as {@link readFrame}; the stream fails at the first bad frame, after emitting the
 * frames before it.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing, type Connection, type Address } from "effect-tcp"
 *
 * // Echo every frame back
 * const echo = (conn: Connection.Connection<Address.Inet>) =>
 *   Framing.frames(conn.reader).pipe(Stream.run(Framing.frameSink(conn.writer)))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const frames = (
  reader: Reader,
  options?: LengthDelimitedOptions
): Stream.Stream<Uint8Array, ReadError | FrameError | InvalidArgument> => internal.frames(reader, options)

/**
 * Runs `f` on every frame until a clean end of stream, without copying frames that arrived in one
 * piece: `f` gets a view of the reader's buffer, valid until the effect it returns completes (copy
 * what must outlive it). Frames that span received chunks are copied once. An `f` that returns an
 * already completed effect (`Effect.void`, `Effect.succeed`, an `Exit`) costs no trip through the
 * runtime; any other effect (services, replies, `Effect.sleep`) is awaited before the next frame.
 *
 * While `forEachFrame` runs, nothing else may read from the reader (`f` included): the frames
 * are consumed only as their handlers succeed.
 *
 * Interruption: the frame being handled and those after it stay buffered; those whose handler
 * succeeded are consumed.
 *
 * Fails with: `f`'s error (that frame stays buffered), as {@link readFrame} otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type Connection, type Address } from "effect-tcp"
 *
 * // Answer each frame with its length as a 4-byte frame
 * const lengths = (conn: Connection.Connection<Address.Inet>) =>
 *   Framing.forEachFrame(conn.reader, (frame) => {
 *     const reply = new Uint8Array(4)
 *     new DataView(reply.buffer).setUint32(0, frame.byteLength)
 *     return Framing.writeFrame(conn.writer, reply)
 *   })
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const forEachFrame = <E, R>(
  reader: Reader,
  f: (frame: Uint8Array) => Effect.Effect<unknown, E, R>,
  options?: LengthDelimitedOptions
): Effect.Effect<void, E | ReadError | FrameError | InvalidArgument, R> => internal.forEachFrame(reader, f, options)

/**
 * Calls `f` synchronously on every frame until a clean end of stream, with no allocation per
 * frame: the frame is `chunk[start, end)`, where `chunk` is the reader's buffered chunk (a view
 * valid only during the call: copy what must outlive it). A frame's body starts at `start` (the
 * header's first `numSkip` bytes are before it) and ends at `end`. Frames that span received
 * chunks are joined by the reader (each byte copied once); the others are never copied. The
 * fastest way to consume frames, for handlers that need no effect per frame (count, parse into
 * your own state, dispatch to a queue); use {@link forEachFrame} when each frame needs an effect.
 *
 * `f` returns `false` to stop after that frame (consumed): the frames after it stay buffered and
 * `forEachFrameSync` succeeds, so a protocol can stop at a frame that needs an answer, answer
 * with effects, and call `forEachFrameSync` again. Any other return value goes on.
 *
 * Each frame is consumed as soon as `f` returns, so a frame is never handed out twice. While
 * `forEachFrameSync` runs, nothing else may read from the reader (`f` cannot: it is synchronous).
 *
 * Interruption: only possible while waiting for bytes; every frame handed to `f` is consumed,
 * the bytes of a partly received frame stay buffered.
 *
 * Fails with: `FrameError` `"FrameTooLong"` as soon as a header announces more than
 * `maxFrameLength` (that frame and those after it stay buffered, its body never waited for),
 * `"InvalidLength"` for a negative adjusted length; `ReadError` `"UnexpectedEof"` when the stream
 * ends inside a frame (its bytes in `partial`), `"TooLarge"` for a frame longer than the reader's
 * `maxReadLength` that arrives in pieces, the reader's other `ReadError`s; `InvalidArgument` for
 * bad options or an `f` that is not a function. A throw from `f` is a defect (`Effect.die`); that
 * frame stays buffered.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type Address, type Connection } from "effect-tcp"
 *
 * // Sum the first byte of every frame until an empty frame, then answer with the sum
 * const sumFirstBytes = (conn: Connection.Connection<Address.Inet>) =>
 *   Effect.gen(function*() {
 *     let sum = 0
 *     yield* Framing.forEachFrameSync(conn.reader, (chunk, start, end) => {
 *       if (start === end) return false
 *       sum += chunk[start]!
 *     })
 *     yield* conn.writer.writeLine(String(sum))
 *   })
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const forEachFrameSync = (
  reader: Reader,
  f: (chunk: Uint8Array, start: number, end: number) => boolean | void,
  options?: LengthDelimitedOptions
): Effect.Effect<void, ReadError | FrameError | InvalidArgument> => internal.forEachFrameSync(reader, f, options)

/**
 * Writes one frame: the header (with the length field computed from the frame), then the frame.
 * `frame` is what a read with the same options returns: the body, or the header and body with
 * `numSkip: 0`. The body is not copied: do not change it until `writer.flushed`.
 *
 * Fails with: `FrameError` `"FrameTooLong"` for a body longer than `maxFrameLength`,
 * `"InvalidLength"` when its length does not fit the length field; `InvalidArgument` for bad
 * options or a frame shorter than the header bytes it must hold (nothing is written on any of
 * these); the writer's `WriteError`s.
 *
 * @example
 * ```ts
 * import { Framing, type Writer } from "effect-tcp"
 *
 * const send = (writer: Writer.Writer, body: Uint8Array) => Framing.writeFrame(writer, body, { lengthFieldLength: 2 })
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const writeFrame: {
  (
    frame: Uint8Array,
    options?: LengthDelimitedOptions
  ): (writer: Writer) => Effect.Effect<void, WriteError | FrameError | InvalidArgument>
  (
    writer: Writer,
    frame: Uint8Array,
    options?: LengthDelimitedOptions
  ): Effect.Effect<void, WriteError | FrameError | InvalidArgument>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && !(args[0] instanceof Uint8Array),
  (writer: Writer, frame: Uint8Array, options?: LengthDelimitedOptions) => internal.writeFrame(writer, frame, options)
)

/**
 * A sink that writes every frame it receives (as {@link writeFrame}); it does not close the
 * writer. The frames of one stream chunk are encoded first and written together.
 *
 * Fails with: as {@link writeFrame}; a frame that cannot be encoded fails the sink before any
 * frame of its chunk is written.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Framing, type Writer } from "effect-tcp"
 *
 * const sendAll = (writer: Writer.Writer, bodies: ReadonlyArray<Uint8Array>) =>
 *   Stream.fromIterable(bodies).pipe(Stream.run(Framing.frameSink(writer)))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const frameSink = (
  writer: Writer,
  options?: LengthDelimitedOptions
): Sink.Sink<void, Uint8Array, never, WriteError | FrameError | InvalidArgument> => internal.frameSink(writer, options)
