/**
 * Exact reads, integers and length-delimited frames, built on the public `Reader` and `Writer`.
 *
 * Reads first try the head chunk of the reader's buffer through `readChunks` (one synchronous
 * pass, no copy until a frame is complete); when a header or a frame spans chunks they fall back
 * to `peek` and `readExactly`, which wait for the bytes without consuming anything. So every read
 * here consumes nothing until it completes: an interrupted read loses no byte.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Framing from "../Framing.js"
import * as Reader from "../Reader.js"
import { FrameError, InvalidArgument, ReadError } from "../TcpError.js"
import type { WriteError } from "../TcpError.js"
import type * as Writer from "../Writer.js"

// -----------------------------------------------------------------------------------------------
// Validation

const invalidError = (argument: string, message: string): InvalidArgument =>
  new InvalidArgument({ argument, message: `${argument}: ${message}` })

const invalid = (argument: string, message: string): Exit.Exit<never, InvalidArgument> =>
  Exit.fail(invalidError(argument, message))

const describe = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : typeof value === "bigint" ? `${value}n` : String(value)

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

const checkReader = (reader: unknown): InvalidArgument | undefined =>
  typeof reader === "object" && reader !== null && Reader.TypeId in reader
    ? undefined
    : new InvalidArgument({ argument: "reader", message: `reader: expected a Reader, got ${describe(reader)}` })

const checkEndian = (endian: unknown): InvalidArgument | undefined =>
  endian === undefined || endian === "big" || endian === "little"
    ? undefined
    : new InvalidArgument({
      argument: "endian",
      message: `endian: expected "big" or "little", got ${describe(endian)}`
    })

// -----------------------------------------------------------------------------------------------
// Exact reads

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const noneExit = Exit.succeed(Option.none())

/** `readExactly(n)`, with an end of stream before the first byte as `none`. */
const exactlyOrNone = (
  reader: Reader.Reader,
  n: number
): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument> =>
  Effect.matchEffect(reader.readExactly(n), {
    onFailure: (error) =>
      error._tag === "ReadError" && error.reason === "UnexpectedEof" &&
        (error.partial === undefined || error.partial.byteLength === 0)
        ? noneExit
        : Exit.fail(error),
    onSuccess: (bytes) => Exit.succeed(Option.some(bytes))
  })

export const readExactlyOrNone = (
  reader: Reader.Reader,
  n: number
): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument> => {
    const bad = checkReader(reader)
    if (bad !== undefined) return Exit.fail(bad)
    if (!isCount(n)) return invalid("n", `expected a non-negative integer, got ${describe(n)}`)
    return exactlyOrNone(reader, n)
  })

// -----------------------------------------------------------------------------------------------
// Integers

/** How an integer is laid out: its width in bytes, signedness, and a decoder of a Buffer. */
interface IntFormat<A> {
  readonly bytes: 1 | 2 | 4 | 8
  readonly decode: (buffer: Buffer, endian: Framing.Endian) => A
}

export const uint8: IntFormat<number> = { bytes: 1, decode: (b) => b[0]! }
export const int8: IntFormat<number> = { bytes: 1, decode: (b) => b.readInt8(0) }
export const uint16: IntFormat<number> = {
  bytes: 2,
  decode: (b, e) => e === "big" ? b.readUInt16BE(0) : b.readUInt16LE(0)
}
export const int16: IntFormat<number> = {
  bytes: 2,
  decode: (b, e) => e === "big" ? b.readInt16BE(0) : b.readInt16LE(0)
}
export const uint32: IntFormat<number> = {
  bytes: 4,
  decode: (b, e) => e === "big" ? b.readUInt32BE(0) : b.readUInt32LE(0)
}
export const int32: IntFormat<number> = {
  bytes: 4,
  decode: (b, e) => e === "big" ? b.readInt32BE(0) : b.readInt32LE(0)
}
export const uint64: IntFormat<bigint> = {
  bytes: 8,
  decode: (b, e) => e === "big" ? b.readBigUInt64BE(0) : b.readBigUInt64LE(0)
}
export const int64: IntFormat<bigint> = {
  bytes: 8,
  decode: (b, e) => e === "big" ? b.readBigInt64BE(0) : b.readBigInt64LE(0)
}

export const readInt = <A>(
  format: IntFormat<A>,
  reader: Reader.Reader,
  endian: Framing.Endian | undefined
): Effect.Effect<A, ReadError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<A, ReadError | InvalidArgument> => {
    const bad = checkReader(reader) ?? checkEndian(endian)
    if (bad !== undefined) return Exit.fail(bad)
    const order = endian ?? "big"
    return Effect.map(reader.readExactly(format.bytes), (bytes) => format.decode(asBuffer(bytes), order))
  })

export const readIntOrNone = <A>(
  format: IntFormat<A>,
  reader: Reader.Reader,
  endian: Framing.Endian | undefined
): Effect.Effect<Option.Option<A>, ReadError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Option.Option<A>, ReadError | InvalidArgument> => {
    const bad = checkReader(reader) ?? checkEndian(endian)
    if (bad !== undefined) return Exit.fail(bad)
    const order = endian ?? "big"
    return Effect.map(exactlyOrNone(reader, format.bytes), Option.map((bytes) => format.decode(asBuffer(bytes), order)))
  })

/** Ranges of the integer widths, for writes. */
const ranges = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
  uint64: [0n, 0xffffffffffffffffn],
  int64: [-0x8000000000000000n, 0x7fffffffffffffffn]
} as const

export type IntKind = keyof typeof ranges

const widths: Record<IntKind, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  uint64: 8,
  int64: 8
}

/** Encodes a validated integer of `kind` into a new buffer. */
const encodeInt = (kind: IntKind, value: number | bigint, endian: Framing.Endian): Buffer => {
  const out = Buffer.allocUnsafe(widths[kind])
  const big = endian === "big"
  switch (kind) {
    case "uint8":
      out.writeUInt8(value as number)
      break
    case "int8":
      out.writeInt8(value as number)
      break
    case "uint16":
      if (big) out.writeUInt16BE(value as number)
      else out.writeUInt16LE(value as number)
      break
    case "int16":
      if (big) out.writeInt16BE(value as number)
      else out.writeInt16LE(value as number)
      break
    case "uint32":
      if (big) out.writeUInt32BE(value as number)
      else out.writeUInt32LE(value as number)
      break
    case "int32":
      if (big) out.writeInt32BE(value as number)
      else out.writeInt32LE(value as number)
      break
    case "uint64":
      if (big) out.writeBigUInt64BE(value as bigint)
      else out.writeBigUInt64LE(value as bigint)
      break
    case "int64":
      if (big) out.writeBigInt64BE(value as bigint)
      else out.writeBigInt64LE(value as bigint)
      break
  }
  return out
}

export const encodeIntChecked = (
  kind: IntKind,
  value: unknown,
  endian: unknown
): Buffer | InvalidArgument => {
  const badEndian = checkEndian(endian)
  if (badEndian !== undefined) return badEndian
  const [low, high] = ranges[kind]
  const ok = typeof low === "bigint"
    ? typeof value === "bigint" && value >= low && value <= high
    : typeof value === "number" && Number.isInteger(value) && value >= low && value <= high
  if (!ok) {
    const type = typeof low === "bigint" ? "a bigint" : "an integer"
    return invalidError("value", `expected ${type} from ${low} to ${high} (${kind}), got ${describe(value)}`)
  }
  return encodeInt(kind, value as number | bigint, (endian as Framing.Endian | undefined) ?? "big")
}

export const writeInt = (
  kind: IntKind,
  writer: Writer.Writer,
  value: number | bigint,
  endian: Framing.Endian | undefined
): Effect.Effect<void, WriteError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<void, WriteError | InvalidArgument> => {
    const encoded = encodeIntChecked(kind, value, endian)
    return encoded instanceof InvalidArgument ? Exit.fail(encoded) : writer.write(encoded)
  })

// -----------------------------------------------------------------------------------------------
// Length-delimited frames: configuration

/** Validated options of a length-delimited framing. */
export interface FrameConfig {
  readonly offset: number
  readonly fieldLength: 1 | 2 | 3 | 4 | 8
  readonly little: boolean
  readonly adjustment: number
  /** offset + fieldLength */
  readonly headerLength: number
  readonly numSkip: number
  readonly maxFrameLength: number
}

export const defaultMaxFrameLength = 1024 * 1024

const defaultConfig: FrameConfig = {
  offset: 0,
  fieldLength: 4,
  little: false,
  adjustment: 0,
  headerLength: 4,
  numSkip: 4,
  maxFrameLength: defaultMaxFrameLength
}

const configs = new WeakMap<Framing.LengthDelimitedOptions, FrameConfig>()

/** Validates framing options (remembered per options object: a loop passes the same one). */
export const frameConfig = (
  options: Framing.LengthDelimitedOptions | undefined
): FrameConfig | InvalidArgument => {
  if (options === undefined) return defaultConfig
  if (typeof options !== "object" || options === null) {
    return invalidError("options", `expected an options object, got ${describe(options)}`)
  }
  const known = configs.get(options)
  if (known !== undefined) return known
  const offset = options.lengthFieldOffset ?? 0
  if (!isCount(offset)) {
    return invalidError("lengthFieldOffset", `expected a non-negative integer, got ${describe(offset)}`)
  }
  if (offset > 65536) return invalidError("lengthFieldOffset", `expected at most 65536, got ${offset}`)
  const fieldLength = options.lengthFieldLength ?? 4
  if (fieldLength !== 1 && fieldLength !== 2 && fieldLength !== 3 && fieldLength !== 4 && fieldLength !== 8) {
    return invalidError("lengthFieldLength", `expected 1, 2, 3, 4 or 8, got ${describe(fieldLength)}`)
  }
  const endian = options.endian
  const badEndian = checkEndian(endian)
  if (badEndian !== undefined) return badEndian
  const adjustment = options.lengthAdjustment ?? 0
  if (typeof adjustment !== "number" || !Number.isSafeInteger(adjustment)) {
    return invalidError("lengthAdjustment", `expected an integer, got ${describe(adjustment)}`)
  }
  const headerLength = offset + fieldLength
  const numSkip = options.numSkip ?? headerLength
  if (!isCount(numSkip) || numSkip > headerLength) {
    return invalidError(
      "numSkip",
      `expected an integer from 0 to the header length ${headerLength}, got ${describe(numSkip)}`
    )
  }
  const maxFrameLength = options.maxFrameLength ?? defaultMaxFrameLength
  if (!isCount(maxFrameLength)) {
    return invalidError("maxFrameLength", `expected a non-negative integer, got ${describe(maxFrameLength)}`)
  }
  const config: FrameConfig = {
    offset,
    fieldLength,
    little: endian === "little",
    adjustment,
    headerLength,
    numSkip,
    maxFrameLength
  }
  configs.set(options, config)
  return config
}

/** The length field at `at` in `bytes` (which holds at least `at + fieldLength` bytes). */
const lengthField = (config: FrameConfig, bytes: Uint8Array, at: number): number => {
  const n = config.fieldLength
  if (n === 8) {
    const b = asBuffer(bytes)
    const value = config.little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at)
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER + 1 : Number(value)
  }
  let value = 0
  if (config.little) {
    for (let i = n - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!
  } else {
    for (let i = 0; i < n; i++) value = value * 256 + bytes[at + i]!
  }
  return value
}

/**
 * The length of the body (the bytes after the header) that a header announces, or the error
 * of a header announcing too much or a negative length.
 */
const bodyLength = (config: FrameConfig, announced: number): number | FrameError => {
  const length = announced + config.adjustment
  if (length < 0) {
    return new FrameError({
      reason: "InvalidLength",
      announced,
      length,
      maxFrameLength: config.maxFrameLength
    })
  }
  if (length > config.maxFrameLength) {
    return new FrameError({ reason: "FrameTooLong", announced, length, maxFrameLength: config.maxFrameLength })
  }
  return length
}

// -----------------------------------------------------------------------------------------------
// Length-delimited frames: reading

/** What a pass over the head chunk found that it could not answer alone. */
const Slow: unique symbol = Symbol.for("effect-tcp/Framing/Slow")

const copyOf = (view: Uint8Array, start: number, end: number): Buffer => {
  const out = Buffer.allocUnsafe(end - start)
  out.set(view.subarray(start, end))
  return out
}

/**
 * One pass over the head chunk: every complete frame in it (copies, or views with `views`),
 * the bytes they span, or `Slow` when not even one frame is complete there, or the header's
 * error. Consumes nothing itself: the caller decides.
 */
class ChunkScan {
  frames: Array<Uint8Array> = []
  /** Where the scanned chunk starts in its ArrayBuffer: a frame ends at its view's end minus this. */
  base = 0
  consumed = 0
  error: FrameError | undefined = undefined
  constructor(readonly config: FrameConfig, readonly views: boolean, readonly max: number) {}

  readonly handle = (view: Uint8Array): Reader.ChunkResult<typeof Slow | undefined> => {
    const config = this.config
    this.error = undefined
    const frames: Array<Uint8Array> = []
    const size = view.byteLength
    const header = config.headerLength
    const fourByteBigEndian = config.fieldLength === 4 && !config.little
    let at = 0
    while (frames.length < this.max && size - at >= header) {
      const field = at + config.offset
      const announced = fourByteBigEndian
        ? view[field]! * 0x1000000 + ((view[field + 1]! << 16) | (view[field + 2]! << 8) | view[field + 3]!)
        : lengthField(config, view, field)
      const length = bodyLength(config, announced)
      if (typeof length !== "number") {
        if (frames.length === 0) this.error = length
        break
      }
      const end = at + header + length
      if (end > size) break
      const start = at + config.numSkip
      // A plain Uint8Array view costs less than a Buffer's `subarray`.
      frames.push(
        this.views ? new Uint8Array(view.buffer, view.byteOffset + start, end - start) : copyOf(view, start, end)
      )
      at = end
    }
    this.frames = frames
    this.base = view.byteOffset
    this.consumed = at
    if (this.error !== undefined || frames.length === 0) return Reader.StopConsumed(Slow, 0)
    // Copies are consumed now; views only once their handlers have run.
    return Reader.StopConsumed(undefined, this.views ? 0 : at)
  }

  /** Bytes from the scanned chunk's start to the end of frame `i`. */
  endOf(i: number): number {
    const frame = this.frames[i]!
    return frame.byteOffset + frame.byteLength - this.base
  }
}

/** One frame the slow way: the header with `peek`, then the whole frame with `readExactly`. */
const slowFrame = (
  reader: Reader.Reader,
  config: FrameConfig,
  keep: boolean
): Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument> =>
  Effect.flatMap(
    reader.peek(config.headerLength),
    (header): Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument> => {
      // Too few bytes before the end of stream: none when there were none, UnexpectedEof otherwise.
      if (Option.isNone(header)) return exactlyOrNone(reader, config.headerLength)
      const length = bodyLength(config, lengthField(config, header.value, config.offset))
      if (typeof length !== "number") return Exit.fail(length)
      const total = config.headerLength + length
      const read = keep ? reader.peek(total) : Effect.map(reader.readExactly(total), Option.some)
      return Effect.flatMap(read, (frame) => {
        if (Option.isNone(frame)) return reader.readExactly(total) as Effect.Effect<never, ReadError | InvalidArgument>
        return Exit.succeed(Option.some(config.numSkip === 0 ? frame.value : frame.value.subarray(config.numSkip)))
      })
    }
  )

export const readFrame = (
  reader: Reader.Reader,
  options: Framing.LengthDelimitedOptions | undefined
): Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Option.Option<Uint8Array>, ReadError | FrameError | InvalidArgument> => {
    const bad = checkReader(reader)
    if (bad !== undefined) return Exit.fail(bad)
    const config = frameConfig(options)
    if (config instanceof InvalidArgument) return Exit.fail(config)
    const scan = new ChunkScan(config, false, 1)
    return Effect.flatMap(reader.readChunks(scan.handle), (end) => {
      if (end._tag === "Eof") return noneExit
      if (scan.error !== undefined) return Exit.fail(scan.error)
      if (end._tag === "Stopped" && end.value !== Slow) return Exit.succeed(Option.some(scan.frames[0]!))
      return slowFrame(reader, config, false)
    })
  })

const emptyChunk: Chunk.Chunk<never> = Chunk.empty()

export const frames = (
  reader: Reader.Reader,
  options: Framing.LengthDelimitedOptions | undefined
): Stream.Stream<Uint8Array, ReadError | FrameError | InvalidArgument> =>
  Stream.unwrap(
    Effect.suspend(
      (): Effect.Effect<Stream.Stream<Uint8Array, ReadError | FrameError | InvalidArgument>, InvalidArgument> => {
        const bad = checkReader(reader)
        if (bad !== undefined) return Exit.fail(bad)
        const config = frameConfig(options)
        if (config instanceof InvalidArgument) return Exit.fail(config)
        const scan = new ChunkScan(config, false, Infinity)
        // Each pull emits every complete frame of the head chunk at once; a frame spanning chunks
        // is read alone.
        const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, ReadError | FrameError | InvalidArgument> = Effect.flatMap(
          reader.readChunks(scan.handle),
          (end) => {
            if (end._tag === "Eof") return Exit.succeed(emptyChunk)
            if (scan.error !== undefined) return Exit.fail(scan.error)
            if (end._tag === "Stopped" && end.value !== Slow) return Exit.succeed(Chunk.unsafeFromArray(scan.frames))
            return Effect.map(
              slowFrame(reader, config, false),
              (frame) => Option.isNone(frame) ? emptyChunk : Chunk.of(frame.value)
            )
          }
        )
        const loop: Channel.Channel<
          Chunk.Chunk<Uint8Array>,
          unknown,
          ReadError | FrameError | InvalidArgument,
          unknown,
          void,
          unknown
        > = Channel.flatMap(
          Channel.fromEffect(pull),
          (chunk) => Chunk.isEmpty(chunk) ? Channel.void : Channel.flatMap(Channel.write(chunk), () => loop)
        )
        return Exit.succeed(Stream.fromChannel(loop))
      }
    )
  )

/** Consumes `n` bytes that are known to be buffered. */
const skip = (reader: Reader.Reader, n: number): Effect.Effect<unknown, ReadError | InvalidArgument> =>
  n === 0 ? Effect.void : Effect.suspend(() => {
    let left = n
    return reader.readChunks((view) => {
      if (view.byteLength < left) {
        left -= view.byteLength
        return Reader.Continue
      }
      return Reader.StopConsumed(undefined, left)
    })
  })

export const forEachFrame = <E, R>(
  reader: Reader.Reader,
  f: (frame: Uint8Array) => Effect.Effect<unknown, E, R>,
  options: Framing.LengthDelimitedOptions | undefined
): Effect.Effect<void, E | ReadError | FrameError | InvalidArgument, R> =>
  Effect.suspend((): Effect.Effect<void, E | ReadError | FrameError | InvalidArgument, R> => {
    const bad = checkReader(reader)
    if (bad !== undefined) return Exit.fail(bad)
    if (typeof f !== "function") return invalid("f", `expected a function, got ${describe(f)}`)
    const config = frameConfig(options)
    if (config instanceof InvalidArgument) return Exit.fail(config)
    const scan = new ChunkScan(config, true, Infinity)

    /** Runs the handlers of the scanned views from `i`; `done` counts those that completed. */
    let done = 0
    const runFrom = (i: number): Effect.Effect<void, E, R> => {
      const views = scan.frames
      for (; i < views.length; i++) {
        const effect = f(views[i]!)
        if (Exit.isExit(effect)) {
          // Already complete (`Effect.void`, `Effect.succeed`, `Exit`s): no trip through the runtime.
          if (Exit.isFailure(effect)) return effect as Exit.Exit<never, E>
          done = i + 1
          continue
        }
        const next = i + 1
        return Effect.flatMap(effect, () => {
          done = next
          return runFrom(next)
        }) as Effect.Effect<void, E, R>
      }
      return Effect.void
    }
    // Views stay valid until consumed: the reader never moves or overwrites buffered bytes.
    // A frame is consumed once its handler has succeeded, so the frame of a handler that failed
    // or was interrupted (and those after it) stay buffered.
    const batch: Effect.Effect<void, E, R> = Effect.suspend(() => {
      done = 0
      return Effect.onExit(runFrom(0), () => Effect.ignore(skip(reader, done === 0 ? 0 : scan.endOf(done - 1))))
    })
    const one = (frame: Uint8Array): Effect.Effect<void, E, R> => {
      const effect = f(frame)
      return (Exit.isExit(effect) ? Exit.asVoid(effect) : Effect.asVoid(effect)) as Effect.Effect<void, E, R>
    }
    const loop: Effect.Effect<void, E | ReadError | FrameError | InvalidArgument, R> = Effect.flatMap(
      reader.readChunks(scan.handle),
      (end): Effect.Effect<void, E | ReadError | FrameError | InvalidArgument, R> => {
        if (end._tag === "Eof") return Effect.void
        if (scan.error !== undefined) return Exit.fail(scan.error)
        if (end._tag === "Stopped" && end.value !== Slow) return Effect.zipRight(batch, loop)
        // A frame spanning chunks: peeked (one copy), handled, then consumed.
        return Effect.flatMap(slowFrame(reader, config, true), (frame) => {
          if (Option.isNone(frame)) return Effect.void
          const total = frame.value.byteLength + config.numSkip
          return Effect.zipRight(
            Effect.zipRight(one(frame.value), skip(reader, total)),
            loop
          )
        })
      }
    )
    return loop
  })

/** Why a `forEachFrameSync` pass over a chunk stopped early. */
const Bad: unique symbol = Symbol.for("effect-tcp/Framing/Bad")
const Threw: unique symbol = Symbol.for("effect-tcp/Framing/Threw")

const stopResults = {
  bad: Reader.StopConsumed(Bad, 0),
  stopped: Reader.Stop(undefined)
}

export const forEachFrameSync = (
  reader: Reader.Reader,
  f: (chunk: Uint8Array, start: number, end: number) => boolean | void,
  options: Framing.LengthDelimitedOptions | undefined
): Effect.Effect<void, ReadError | FrameError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<void, ReadError | FrameError | InvalidArgument> => {
    const bad = checkReader(reader)
    if (bad !== undefined) return Exit.fail(bad)
    if (typeof f !== "function") return invalid("f", `expected a function, got ${describe(f)}`)
    const config = frameConfig(options)
    if (config instanceof InvalidArgument) return Exit.fail(config)
    const header = config.headerLength
    const skipped = config.numSkip
    const fourByteBigEndian = config.offset === 0 && config.fieldLength === 4 && !config.little &&
      config.adjustment === 0
    const max = config.maxFrameLength
    let error: FrameError | undefined
    let thrown: unknown
    // One pass per chunk, no allocation per frame: the frames of the chunk are handled in place,
    // each consumed as its handler returns. An incomplete frame at the end is left unconsumed:
    // the reader calls again with it and the next bytes joined (a frame spanning chunks is copied
    // once, by the reader).
    const handle = (view: Uint8Array): Reader.ChunkResult<typeof Bad | typeof Threw | undefined> => {
      const size = view.byteLength
      let at = 0
      while (size - at >= header) {
        let length: number
        if (fourByteBigEndian) {
          length = view[at]! * 0x1000000 + ((view[at + 1]! << 16) | (view[at + 2]! << 8) | view[at + 3]!)
          if (length > max) {
            error = new FrameError({ reason: "FrameTooLong", announced: length, length, maxFrameLength: max })
            return at === 0 ? stopResults.bad : Reader.StopConsumed(Bad, at)
          }
        } else {
          const checked = bodyLength(config, lengthField(config, view, at + config.offset))
          if (typeof checked !== "number") {
            error = checked
            return at === 0 ? stopResults.bad : Reader.StopConsumed(Bad, at)
          }
          length = checked
        }
        const end = at + header + length
        if (end > size) break
        let more: boolean | void
        try {
          more = f(view, at + skipped, end)
        } catch (e) {
          thrown = e
          return Reader.StopConsumed(Threw, at)
        }
        at = end
        if (more === false) return at === size ? stopResults.stopped : Reader.StopConsumed(undefined, at)
      }
      return at === size ? Reader.Continue : Reader.Consumed(at)
    }
    return Effect.flatMap(
      reader.readChunks(handle),
      (end): Effect.Effect<void, ReadError | FrameError | InvalidArgument> => {
        switch (end._tag) {
          case "Eof":
            return Exit.void
          case "EofWithUnconsumed":
            // The stream ended inside a frame (or its header).
            return Exit.fail(new ReadError({ reason: "UnexpectedEof", partial: end.bytes }))
          case "Stopped":
            if (end.value === Bad) return Exit.fail(error!)
            if (end.value === Threw) return Exit.die(thrown)
            return Exit.void
        }
      }
    )
  })

// -----------------------------------------------------------------------------------------------
// Length-delimited frames: writing

/**
 * The header that precedes `frame` (what a read with the same options returns) on the wire, and
 * the body that follows it; stripped header bytes other than the length field are zeros.
 */
export const encodeFrame = (
  config: FrameConfig,
  frame: Uint8Array
): readonly [Uint8Array, Uint8Array] | FrameError | InvalidArgument => {
  if (!(frame instanceof Uint8Array)) return invalidError("frame", `expected a Uint8Array, got ${describe(frame)}`)
  const kept = config.headerLength - config.numSkip
  if (frame.byteLength < kept) {
    return invalidError(
      "frame",
      `expected at least the ${kept} header bytes the framing keeps, got ${frame.byteLength} bytes`
    )
  }
  const body = frame.subarray(kept)
  const length = body.byteLength
  const announced = length - config.adjustment
  if (length > config.maxFrameLength) {
    return (new FrameError({ reason: "FrameTooLong", announced, length, maxFrameLength: config.maxFrameLength }))
  }
  const capacity = config.fieldLength === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * config.fieldLength) - 1
  if (announced < 0 || announced > capacity) {
    return (new FrameError({ reason: "InvalidLength", announced, length, maxFrameLength: config.maxFrameLength }))
  }
  const header = Buffer.alloc(config.headerLength)
  if (kept > 0) header.set(frame.subarray(0, kept), config.numSkip)
  const at = config.offset
  if (config.fieldLength === 8) {
    if (config.little) header.writeBigUInt64LE(BigInt(announced), at)
    else header.writeBigUInt64BE(BigInt(announced), at)
  } else if (config.little) {
    header.writeUIntLE(announced, at, config.fieldLength)
  } else {
    header.writeUIntBE(announced, at, config.fieldLength)
  }
  return [header, body] as const
}

export const writeFrame = (
  writer: Writer.Writer,
  frame: Uint8Array,
  options: Framing.LengthDelimitedOptions | undefined
): Effect.Effect<void, WriteError | FrameError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<void, WriteError | FrameError | InvalidArgument> => {
    const config = frameConfig(options)
    if (config instanceof InvalidArgument) return Exit.fail(config)
    const encoded = encodeFrame(config, frame)
    if (!Array.isArray(encoded)) return Exit.fail(encoded as FrameError | InvalidArgument)
    const [header, body] = encoded as readonly [Uint8Array, Uint8Array]
    // Two writes of one turn leave in one syscall: the body is not copied.
    return body.byteLength === 0 ? writer.write(header) : Effect.zipRight(writer.write(header), writer.write(body))
  })

export const frameSink = (
  writer: Writer.Writer,
  options: Framing.LengthDelimitedOptions | undefined
): Sink.Sink<void, Uint8Array, never, WriteError | FrameError | InvalidArgument> =>
  Sink.forEachChunk((frames: Chunk.Chunk<Uint8Array>) =>
    Effect.suspend((): Effect.Effect<void, WriteError | FrameError | InvalidArgument> => {
      const config = frameConfig(options)
      if (config instanceof InvalidArgument) return Exit.fail(config)
      // Every frame of the chunk is encoded first, then written at once.
      const parts: Array<Uint8Array> = []
      for (const frame of frames) {
        const encoded = encodeFrame(config, frame)
        if (!Array.isArray(encoded)) return Exit.fail(encoded as FrameError | InvalidArgument)
        const [header, body] = encoded as readonly [Uint8Array, Uint8Array]
        parts.push(header)
        if (body.byteLength > 0) parts.push(body)
      }
      return Effect.forEach(parts, (part) => writer.write(part), { discard: true })
    })
  )
