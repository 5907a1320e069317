/**
 * Typed messages over a connection: each frame (`Framing`) or line decoded with a `Schema`, and
 * values encoded with it on the way out.
 *
 * A frame format is a `Schema<A, Uint8Array, R>`: {@link json} for UTF-8 JSON, or
 * `MsgPack.schema(schema)` from `@effect/platform/MsgPack` for MessagePack (the optional peer
 * dependency that also brings `msgpackr`; effect-tcp itself adds no dependency for it). A line
 * format is a `Schema<A, string, R>`: `Schema.parseJson(schema)` for JSON lines.
 *
 * **A bad message is the caller's choice.** A frame or line that does not decode is a
 * `MessageError` `"Decode"` that names it (its `index` in the stream, its `length` in bytes) and
 * carries the `ParseError`. The streams {@link frames} and {@link lines} fail at the first one
 * (end the connection); {@link framesEither} and {@link linesEither} emit it as an `Either.left`
 * and go on (skip it, answer with an error, count it). Framing errors (`FrameError`) and read
 * errors always end the stream: after them the byte stream cannot be trusted.
 *
 * A separate entry point (`effect-tcp/Message`), as it loads `effect/Schema`.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { type Address, type Connection } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Request = Schema.Struct({ id: Schema.Number, op: Schema.Literal("add"), a: Schema.Number, b: Schema.Number })
 * const Reply = Schema.Struct({ id: Schema.Number, sum: Schema.Number })
 *
 * // A server handler: length-prefixed JSON requests in, replies out, until the client ends.
 * const handler = (conn: Connection.Connection<Address.Inet>) =>
 *   Message.frames(conn.reader, Message.json(Request)).pipe(
 *     Stream.map((r) => ({ id: r.id, sum: r.a + r.b })),
 *     Stream.run(Message.frameSink(conn.writer, Message.json(Reply)))
 *   )
 * ```
 *
 * @since 0.2.0
 * @module
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Framing from "./Framing.js"
import * as framing from "./internal/framing.js"
import type { Reader } from "./Reader.js"
import { type FrameError, InvalidArgument, type ReadError, type WriteError } from "./TcpError.js"
import type { Writer } from "./Writer.js"

/**
 * Why a message failed: it did not decode (`"Decode"`) or a value did not encode (`"Encode"`).
 *
 * @since 0.2.0
 * @category models
 */
export type MessageErrorReason = "Decode" | "Encode"

/**
 * A message did not decode, or a value did not encode. `index` is the position of the frame or
 * line in the stream that read it (from 0; absent for single reads and writes), `length` its
 * size in bytes, `cause` the schema's `ParseError`. A message that failed to decode has been
 * consumed: the next read gets the next message.
 *
 * @since 0.2.0
 * @category errors
 */
export class MessageError extends Data.TaggedError("MessageError")<{
  readonly reason: MessageErrorReason
  readonly index?: number | undefined
  readonly length: number
  readonly cause: ParseResult.ParseError
}> {
  /** @since 0.2.0 */
  override get message(): string {
    const which = this.index === undefined ? "message" : `message ${this.index}`
    const verb = this.reason === "Decode" ? "does not decode" : "does not encode"
    return `${which} (${this.length} bytes) ${verb}: ${this.cause.message}`
  }
}

// -----------------------------------------------------------------------------------------------
// Formats

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * UTF-8 bytes as a string (an invalid sequence fails to decode).
 *
 * @since 0.2.0
 * @category formats
 */
export const Utf8: Schema.Schema<string, Uint8Array> = Schema.transformOrFail(
  Schema.Uint8ArrayFromSelf,
  Schema.String,
  {
    strict: true,
    decode: (bytes, _, ast) =>
      ParseResult.try({
        try: () => utf8Decoder.decode(bytes),
        catch: () => new ParseResult.Type(ast, bytes, "invalid UTF-8")
      }),
    encode: (text) => ParseResult.succeed(utf8Encoder.encode(text))
  }
)

/**
 * A JSON frame format: UTF-8 JSON text decoded with `schema` (and `schema`'s encoded form
 * written as JSON).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as Message from "effect-tcp/Message"
 *
 * const Ping = Message.json(Schema.Struct({ seq: Schema.Number }))
 * ```
 *
 * @since 0.2.0
 * @category formats
 */
export const json = <A, I, R>(schema: Schema.Schema<A, I, R>): Schema.Schema<A, Uint8Array, R> =>
  Schema.compose(Utf8, Schema.parseJson(schema))

const byteLength = (message: Uint8Array | string): number =>
  typeof message === "string" ? Buffer.byteLength(message, "utf8") : message.byteLength

const isSchema = (schema: unknown): boolean => Schema.isSchema(schema)

const badSchemaError = (schema: unknown): InvalidArgument =>
  new InvalidArgument({ argument: "schema", message: `schema: expected a Schema, got ${String(schema)}` })

const badSchema = (schema: unknown) => Exit.fail(badSchemaError(schema))

/** Decodes one message; `index` names it in errors. */
const decodeWith = <A, I extends Uint8Array | string, R>(
  decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError, R>,
  message: I,
  index: number | undefined
): Effect.Effect<A, MessageError, R> =>
  Effect.mapError(
    decode(message),
    (cause) => new MessageError({ reason: "Decode", index, length: byteLength(message), cause })
  )

// -----------------------------------------------------------------------------------------------
// Frames

/**
 * The next frame decoded with `schema`, or `Option.none()` at a clean end of stream.
 *
 * Interruption: consumes nothing while waiting for the frame (as `Framing.readFrame`); a frame
 * being decoded by an effectful schema when interrupted is lost.
 *
 * Fails with: `MessageError` `"Decode"` (the frame is consumed; the next read gets the next one),
 * the errors of `Framing.readFrame`, `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Effect, Option, Schema } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Hello = Message.json(Schema.Struct({ version: Schema.Number, name: Schema.String }))
 *
 * // The server's hello frame, or none if it closed first
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Message.readFrame(connection.reader, Hello).pipe(
 *     Effect.map(Option.map((hello) => `${hello.name} v${hello.version}`))
 *   ))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const readFrame = <A, R>(
  reader: Reader,
  schema: Schema.Schema<A, Uint8Array, R>,
  options?: Framing.LengthDelimitedOptions
): Effect.Effect<Option.Option<A>, ReadError | FrameError | MessageError | InvalidArgument, R> =>
  Effect.suspend(() => {
    if (!isSchema(schema)) return badSchema(schema)
    const decode = Schema.decodeUnknown(schema)
    return Effect.flatMap(
      framing.readFrame(reader, options),
      (frame) =>
        Option.isNone(frame)
          ? Effect.succeed(Option.none())
          : Effect.map(decodeWith(decode, frame.value, undefined), Option.some)
    )
  })

/** The frames or lines of a stream decoded one by one, each as an Either, indexed from 0. */
const decodeEach = <X extends Uint8Array | string, A, E, R>(
  source: Stream.Stream<X, E>,
  schema: Schema.Schema<A, X, R>
): Stream.Stream<Either.Either<A, MessageError>, E | InvalidArgument, R> =>
  Stream.suspend((): Stream.Stream<Either.Either<A, MessageError>, E | InvalidArgument, R> => {
    if (!isSchema(schema)) return Stream.fail(badSchemaError(schema))
    const decode = Schema.decodeUnknown(schema)
    let index = 0
    return Stream.mapChunksEffect(
      source,
      (chunk) =>
        Effect.forEach(chunk, (message) => Effect.either(decodeWith(decode, message, index++))).pipe(
          Effect.map(Chunk.unsafeFromArray)
        )
    )
  })

/**
 * The frames decoded with `schema`, as a stream ending at a clean end of stream. Fails at the
 * first frame that does not decode, after emitting the messages before it.
 *
 * Interruption: frames not yet pulled stay buffered.
 *
 * Fails with: `MessageError` `"Decode"` naming the frame (`index`, `length`), the errors of
 * `Framing.frames`, `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Event = Message.json(Schema.Struct({ kind: Schema.String, at: Schema.Number }))
 *
 * // Log each event a client sends; a frame that does not decode ends the connection with MessageError
 * const server = Server.serve(WhereToListen.onPort(7000), (connection) =>
 *   Message.frames(connection.reader, Event).pipe(Stream.runForEach((event) => Effect.log(event.kind))))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const frames = <A, R>(
  reader: Reader,
  schema: Schema.Schema<A, Uint8Array, R>,
  options?: Framing.LengthDelimitedOptions
): Stream.Stream<A, ReadError | FrameError | MessageError | InvalidArgument, R> =>
  failFast(decodeEach(framing.frames(reader, options), schema))

/**
 * The frames decoded with `schema`, each as an `Either`: a frame that does not decode is a
 * `Left` with its `MessageError`, and the stream goes on with the next frame.
 *
 * Interruption: frames not yet pulled stay buffered.
 *
 * Fails with: the errors of `Framing.frames` (these end the stream), `InvalidArgument` for a
 * value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema, Stream } from "effect"
 * import type { Reader } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * // Skip bad frames, logging each
 * const good = (reader: Reader.Reader) =>
 *   Message.framesEither(reader, Message.json(Schema.Number)).pipe(
 *     Stream.tap((m) => Either.isLeft(m) ? Effect.logWarning(m.left.message) : Effect.void),
 *     Stream.filterMap(Either.getRight)
 *   )
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const framesEither = <A, R>(
  reader: Reader,
  schema: Schema.Schema<A, Uint8Array, R>,
  options?: Framing.LengthDelimitedOptions
): Stream.Stream<Either.Either<A, MessageError>, ReadError | FrameError | InvalidArgument, R> =>
  decodeEach(framing.frames(reader, options), schema)

/** Emits the values of the `Right`s; a `Left` fails the stream once the values before it are out. */
const failFast = <A, E, R>(
  stream: Stream.Stream<Either.Either<A, MessageError>, E, R>
): Stream.Stream<A, E | MessageError, R> => {
  const loop: Channel.Channel<
    Chunk.Chunk<A>,
    Chunk.Chunk<Either.Either<A, MessageError>>,
    E | MessageError,
    E,
    unknown,
    unknown
  > = Channel.readWithCause({
    onInput: (chunk: Chunk.Chunk<Either.Either<A, MessageError>>) => {
      const out: Array<A> = []
      for (const item of chunk) {
        if (Either.isLeft(item)) {
          const fail = Channel.fail(item.left)
          return out.length === 0 ? fail : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), fail)
        }
        out.push(item.right)
      }
      return Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
    },
    onFailure: (cause) => Channel.failCause(cause),
    onDone: () => Channel.void
  })
  return Stream.pipeThroughChannel(stream, loop)
}

/**
 * Writes `value` encoded with `schema` as one frame.
 *
 * Fails with: `MessageError` `"Encode"` (nothing written), the errors of `Framing.writeFrame`,
 * `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Login = Message.json(Schema.Struct({ user: Schema.String }))
 *
 * // One length-prefixed JSON frame (4-byte big-endian length, the default)
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Message.writeFrame(connection.writer, Login, { user: "ada" }))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const writeFrame = <A, R>(
  writer: Writer,
  schema: Schema.Schema<A, Uint8Array, R>,
  value: A,
  options?: Framing.LengthDelimitedOptions
): Effect.Effect<void, WriteError | FrameError | MessageError | InvalidArgument, R> =>
  Effect.suspend(() => {
    if (!isSchema(schema)) return badSchema(schema)
    return Effect.flatMap(
      Effect.mapError(
        Schema.encode(schema)(value),
        (cause) => new MessageError({ reason: "Encode", length: 0, cause })
      ),
      (bytes) => framing.writeFrame(writer, bytes, options)
    )
  })

/**
 * A sink that encodes every value with `schema` and writes it as a frame; it does not close the
 * writer. The frames of one chunk are encoded first, then written together.
 *
 * Fails with: `MessageError` `"Encode"` naming the value's `index` (nothing of its chunk is
 * written), the errors of `Framing.frameSink`, `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Schema, Stream } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Sample = Message.json(Schema.Struct({ t: Schema.Number, value: Schema.Number }))
 *
 * // Stream 1,000 samples as frames
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Stream.range(1, 1000).pipe(
 *     Stream.map((t) => ({ t, value: Math.sin(t) })),
 *     Stream.run(Message.frameSink(connection.writer, Sample))
 *   ))
 * ```
 *
 * @since 0.2.0
 * @category frames
 */
export const frameSink = <A, R>(
  writer: Writer,
  schema: Schema.Schema<A, Uint8Array, R>,
  options?: Framing.LengthDelimitedOptions
): Sink.Sink<void, A, never, WriteError | FrameError | MessageError | InvalidArgument, R> =>
  Sink.suspend(() => {
    if (!isSchema(schema)) return Sink.fail(badSchemaError(schema))
    const encode = Schema.encode(schema)
    let index = 0
    return Sink.mapInputChunksEffect(framing.frameSink(writer, options), (values: Chunk.Chunk<A>) =>
      Effect.map(
        Effect.forEach(values, (value) => {
          const at = index++
          return Effect.mapError(
            encode(value),
            (cause) => new MessageError({ reason: "Encode", index: at, length: 0, cause })
          )
        }),
        Chunk.unsafeFromArray
      ))
  })

// -----------------------------------------------------------------------------------------------
// Lines

/**
 * The lines (as `reader.lines`) decoded with `schema`, e.g. `Schema.parseJson(schema)` for JSON
 * lines. Fails at the first line that does not decode, after emitting the messages before it.
 *
 * Interruption: lines not yet pulled stay buffered.
 *
 * Fails with: `MessageError` `"Decode"` naming the line (`index`, `length`), the errors of
 * `reader.lines` (`"LineTooLong"`, …), `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Schema, Stream } from "effect"
 * import type { Reader } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const events = (reader: Reader.Reader) =>
 *   Message.lines(reader, Schema.parseJson(Schema.Struct({ event: Schema.String }))).pipe(Stream.runCollect)
 * ```
 *
 * @since 0.2.0
 * @category lines
 */
export const lines = <A, R>(
  reader: Reader,
  schema: Schema.Schema<A, string, R>
): Stream.Stream<A, ReadError | MessageError | InvalidArgument, R> => failFast(decodeEach(reader.lines, schema))

/**
 * The lines decoded with `schema`, each as an `Either`: a line that does not decode is a `Left`
 * and the stream goes on.
 *
 * Fails with: the errors of `reader.lines`, `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema, Stream } from "effect"
 * import { Server, WhereToListen } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Command = Schema.parseJson(Schema.Struct({ op: Schema.String }))
 *
 * // A line that is not a command is answered with an error line; the connection goes on
 * const server = Server.serve(WhereToListen.onPort(7000), (connection) =>
 *   Message.linesEither(connection.reader, Command).pipe(
 *     Stream.runForEach(Either.match({
 *       onLeft: (error) => connection.writer.writeLine(`ERR ${error.message}`),
 *       onRight: (command) => Effect.log(command.op)
 *     }))
 *   ))
 * ```
 *
 * @since 0.2.0
 * @category lines
 */
export const linesEither = <A, R>(
  reader: Reader,
  schema: Schema.Schema<A, string, R>
): Stream.Stream<Either.Either<A, MessageError>, ReadError | InvalidArgument, R> => decodeEach(reader.lines, schema)

/**
 * Writes `value` encoded with `schema` as one line (followed by LF). The encoded text must not
 * contain a line break (JSON from `Schema.parseJson` never does).
 *
 * Fails with: `MessageError` `"Encode"` (also for a line break in the text; nothing written), the
 * writer's `WriteError`s, `InvalidArgument` for a value that is not a Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Command = Schema.parseJson(Schema.Struct({ op: Schema.String, key: Schema.String }))
 *
 * // One newline-delimited JSON command
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 7000), (connection) =>
 *   Message.writeLine(connection.writer, Command, { op: "get", key: "user:1" }))
 * ```
 *
 * @since 0.2.0
 * @category lines
 */
export const writeLine = <A, R>(
  writer: Writer,
  schema: Schema.Schema<A, string, R>,
  value: A
): Effect.Effect<void, WriteError | MessageError | InvalidArgument, R> =>
  Effect.suspend((): Effect.Effect<void, WriteError | MessageError | InvalidArgument, R> => {
    if (!isSchema(schema)) return badSchema(schema)
    return Effect.flatMap(encodeLine(Schema.encode(schema), value, undefined), (line) => writer.write(line))
  })

const encodeLine = <A, R>(
  encode: (value: A) => Effect.Effect<string, ParseResult.ParseError, R>,
  value: A,
  index: number | undefined
): Effect.Effect<string, MessageError, R> =>
  Effect.flatMap(
    Effect.mapError(encode(value), (cause) => new MessageError({ reason: "Encode", index, length: 0, cause })),
    (text) => {
      if (text.includes("\n")) {
        const cause = new ParseResult.ParseError({
          issue: new ParseResult.Type(Schema.String.ast, text, "a line cannot contain a line break")
        })
        return Effect.fail(new MessageError({ reason: "Encode", index, length: byteLength(text), cause }))
      }
      return Effect.succeed(text + "\n")
    }
  )

/**
 * A sink that writes every value encoded with `schema` as a line; it does not close the writer.
 * The lines of one chunk are written with one write.
 *
 * Fails with: as {@link writeLine}, naming the value's `index`.
 *
 * @example
 * ```ts
 * import { Schema, Stream } from "effect"
 * import { Tcp, WhereToConnect } from "effect-tcp"
 * import * as Message from "effect-tcp/Message"
 *
 * const Log = Schema.parseJson(Schema.Struct({ level: Schema.String, text: Schema.String }))
 *
 * // Ship log records as JSON lines
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("localhost", 5170), (connection) =>
 *   Stream.make({ level: "info", text: "started" }, { level: "warn", text: "disk 91%" }).pipe(
 *     Stream.run(Message.lineSink(connection.writer, Log))
 *   ))
 * ```
 *
 * @since 0.2.0
 * @category lines
 */
export const lineSink = <A, R>(
  writer: Writer,
  schema: Schema.Schema<A, string, R>
): Sink.Sink<void, A, never, WriteError | MessageError | InvalidArgument, R> =>
  Sink.suspend((): Sink.Sink<void, A, never, WriteError | MessageError | InvalidArgument, R> => {
    if (!isSchema(schema)) return Sink.fail(badSchemaError(schema))
    const encode = Schema.encode(schema)
    let index = 0
    return Sink.forEachChunk((values: Chunk.Chunk<A>) =>
      Effect.flatMap(
        Effect.forEach(values, (value) => encodeLine(encode, value, index++)),
        (texts) => texts.length === 0 ? Effect.void : writer.write(texts.join(""))
      )
    )
  })
