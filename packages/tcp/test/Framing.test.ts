import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as Framing from "../src/Framing.js"
import type * as Reader from "../src/Reader.js"
import * as Tcp from "../src/Tcp.js"
import { FrameError, InvalidArgument, ReadError } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { pauses, property } from "./utils/property.js"
import { accept, rawServer, rawWrite, readToEnd, ticks, writeChunksThenEnd } from "./utils/rawServer.js"
import { feed, makeReader } from "./utils/reader.js"
import { hex } from "./utils/readerModel.js"

/** Cuts `data` at `cuts` (positions, any order). */
const cut = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [0, ...cuts.map((c) => Math.min(c, data.byteLength)).sort((a, b) => a - b), data.byteLength]
  const out: Array<Uint8Array> = []
  for (let i = 1; i < points.length; i++) out.push(data.subarray(points[i - 1], points[i]))
  return out
}

// ---------------------------------------------------------------------------------------------
// A reference encoder, written independently of the library (Node's Buffer methods).

interface Layout {
  readonly lengthFieldOffset: number
  readonly lengthFieldLength: 1 | 2 | 3 | 4 | 8
  readonly endian: "big" | "little"
  readonly lengthAdjustment: number
  readonly numSkip: number
}

const layout: fc.Arbitrary<Layout> = fc
  .record({
    lengthFieldOffset: fc.integer({ min: 0, max: 3 }),
    lengthFieldLength: fc.constantFrom<1 | 2 | 3 | 4 | 8>(1, 2, 3, 4, 8),
    endian: fc.constantFrom<"big" | "little">("big", "little"),
    lengthAdjustment: fc.integer({ min: -6, max: 4 }),
    skipFraction: fc.double({ min: 0, max: 1, noNaN: true })
  })
  .map(({ skipFraction, ...rest }) => ({
    ...rest,
    numSkip: Math.round(skipFraction * (rest.lengthFieldOffset + rest.lengthFieldLength))
  }))

/** Framing's defaults: a 4-byte big-endian length, then the body. */
const defaultLayout: Layout = {
  lengthFieldOffset: 0,
  lengthFieldLength: 4,
  endian: "big",
  lengthAdjustment: 0,
  numSkip: 4
}

interface RefFrame {
  readonly prefix: Uint8Array
  readonly body: Uint8Array
}

/** The wire bytes of a frame, and what a read returns for it. */
const refEncode = (l: Layout, f: RefFrame): { wire: Buffer; decoded: Buffer } => {
  const field = Buffer.alloc(l.lengthFieldLength)
  const value = f.body.byteLength - l.lengthAdjustment
  if (l.lengthFieldLength === 8) {
    if (l.endian === "big") field.writeBigUInt64BE(BigInt(value))
    else field.writeBigUInt64LE(BigInt(value))
  } else {
    if (l.endian === "big") field.writeUIntBE(value, 0, l.lengthFieldLength)
    else field.writeUIntLE(value, 0, l.lengthFieldLength)
  }
  const wire = Buffer.concat([f.prefix, field, f.body])
  return { wire, decoded: wire.subarray(l.numSkip) }
}

/** A layout with frames that it can carry (body long enough for the adjustment). */
const framesFor = (l: Layout, zeroPrefix = false): fc.Arbitrary<Array<RefFrame>> =>
  fc.array(
    fc.record({
      prefix: zeroPrefix
        ? fc.constant(new Uint8Array(l.lengthFieldOffset))
        : fc.uint8Array({ minLength: l.lengthFieldOffset, maxLength: l.lengthFieldOffset }),
      body: fc.uint8Array({ minLength: Math.max(0, l.lengthAdjustment), maxLength: 40 })
    }),
    { maxLength: 12 }
  )

const scenario = fc.tuple(layout, fc.boolean()).chain(([l, zeroPrefix]) =>
  fc.record({
    layout: fc.constant(l),
    frames: framesFor(l, zeroPrefix),
    cuts: fc.array(fc.nat({ max: 600 }), { maxLength: 25 }),
    yields: pauses
  })
)

type Method = "readFrame" | "frames" | "forEachFrame" | "forEachFrameSync"

/** Every frame `method` reads until the end (as hex), then how it ended. */
const readAllWith = (method: Method, reader: Reader.Reader, options: Framing.LengthDelimitedOptions) =>
  Effect.gen(function*() {
    const got: Array<string> = []
    let exit: Exit.Exit<void, unknown>
    switch (method) {
      case "readFrame":
        exit = yield* Effect.exit(Effect.gen(function*() {
          for (let i = 0; i < 1000; i++) {
            const frame = yield* Framing.readFrame(reader, options)
            if (Option.isNone(frame)) return
            got.push(hex(frame.value))
          }
        }))
        break
      case "frames":
        exit = yield* Effect.exit(
          Stream.runForEach(Framing.frames(reader, options), (f) => Effect.sync(() => got.push(hex(f))))
        )
        break
      case "forEachFrame": {
        let k = 0
        exit = yield* Effect.exit(Framing.forEachFrame(reader, (f) => {
          // A mix of completed effects and effects that suspend.
          const copy = hex(f)
          return k++ % 3 === 0 ? Effect.sync(() => got.push(copy)) : Exit.succeed(got.push(copy))
        }, options))
        break
      }
      case "forEachFrameSync":
        exit = yield* Effect.exit(Framing.forEachFrameSync(reader, (chunk, start, end) => {
          got.push(hex(chunk.subarray(start, end)))
        }, options))
        break
    }
    return { got, exit }
  })

const methods: ReadonlyArray<Method> = ["readFrame", "frames", "forEachFrame", "forEachFrameSync"]

describe("Framing", () => {
  describe("length-delimited frames, any chunking (ReaderImpl fed directly)", () => {
    it.live("every layout and chunking gives the frames, each once, in order", () =>
      property(
        [scenario, fc.constantFrom(...methods)],
        ({ cuts, frames, layout, yields }, method) =>
          Effect.gen(function*() {
            const encoded = frames.map((f) => refEncode(layout, f))
            const data = Buffer.concat(encoded.map((e) => e.wire))
            const reader = makeReader({ bufferSize: 16 })
            const reading = yield* Effect.fork(readAllWith(method, reader, layout))
            yield* feed(reader, cut(data, cuts), yields)
            const { exit, got } = yield* Fiber.join(reading)
            assert.isTrue(Exit.isSuccess(exit), String(exit))
            assert.deepStrictEqual(got, encoded.map((e) => hex(e.decoded)))
            assert.isTrue(yield* reader.isAtEof)
          }),
        { numRuns: 400 }
      ))

    it.live("a stream cut inside a frame: the whole frames, then UnexpectedEof with the partial bytes", () =>
      property(
        [scenario, fc.constantFrom(...methods), fc.nat()],
        ({ cuts, frames, layout, yields }, method, where) =>
          Effect.gen(function*() {
            const encoded = frames.map((f) => refEncode(layout, f))
            const data = Buffer.concat(encoded.map((e) => e.wire))
            if (data.byteLength === 0) return
            const end = 1 + (where % data.byteLength)
            const complete = encoded.filter((_, i) =>
              encoded.slice(0, i + 1).reduce((n, e) => n + e.wire.byteLength, 0) <= end
            )
            const completeBytes = complete.reduce((n, e) => n + e.wire.byteLength, 0)
            const reader = makeReader({ bufferSize: 16 })
            const reading = yield* Effect.fork(readAllWith(method, reader, layout))
            yield* feed(reader, cut(data.subarray(0, end), cuts), yields)
            const { exit, got } = yield* Fiber.join(reading)
            assert.deepStrictEqual(got, complete.map((e) => hex(e.decoded)))
            if (completeBytes === end) {
              assert.isTrue(Exit.isSuccess(exit))
            } else {
              assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail")
              const error = (exit as any).cause.error
              assert.instanceOf(error, ReadError)
              assert.strictEqual(error.reason, "UnexpectedEof")
              assert.strictEqual(hex(error.partial!), hex(data.subarray(completeBytes, end)))
            }
          }),
        { numRuns: 300 }
      ))

    it.live("a frame over maxFrameLength fails FrameTooLong with the announced length, after the frames before it", () =>
      property(
        [scenario, fc.constantFrom(...methods), fc.integer({ min: 0, max: 39 })],
        ({ cuts, frames, layout, yields }, method, max) =>
          Effect.gen(function*() {
            const encoded = frames.map((f) => refEncode(layout, f))
            const firstTooLong = frames.findIndex((f) => f.body.byteLength > max)
            const data = Buffer.concat(encoded.map((e) => e.wire))
            const reader = makeReader({ bufferSize: 16 })
            const reading = yield* Effect.fork(readAllWith(method, reader, { ...layout, maxFrameLength: max }))
            yield* feed(reader, cut(data, cuts), yields)
            const { exit, got } = yield* Fiber.join(reading)
            if (firstTooLong === -1) {
              assert.isTrue(Exit.isSuccess(exit))
              assert.strictEqual(got.length, frames.length)
              return
            }
            assert.deepStrictEqual(got, encoded.slice(0, firstTooLong).map((e) => hex(e.decoded)))
            assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail")
            const error = (exit as any).cause.error
            assert.instanceOf(error, FrameError)
            assert.strictEqual(error.reason, "FrameTooLong")
            assert.strictEqual(error.length, frames[firstTooLong]!.body.byteLength)
            assert.strictEqual(error.announced, frames[firstTooLong]!.body.byteLength - layout.lengthAdjustment)
            // Nothing of the rejected frame was consumed.
            const before = encoded.slice(0, firstTooLong).reduce((n, e) => n + e.wire.byteLength, 0)
            assert.strictEqual(yield* reader.bytesBuffered, data.byteLength - before)
          }),
        { numRuns: 300 }
      ))

    it.live("interrupted reads consume nothing: reads interrupted at random points still see every frame once", () =>
      property(
        [scenario, fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 })],
        ({ cuts, frames, layout, yields }, patience) =>
          Effect.gen(function*() {
            const encoded = frames.map((f) => refEncode(layout, f))
            const data = Buffer.concat(encoded.map((e) => e.wire))
            const reader = makeReader({ bufferSize: 16 })
            const reading = yield* Effect.fork(Effect.gen(function*() {
              const got: Array<string> = []
              for (let i = 0; i < 10_000; i++) {
                const k = patience[i % patience.length]!
                const fiber = yield* Effect.fork(Framing.readFrame(reader, layout))
                yield* ticksYield(k)
                // Every fifth read is left to complete, so that reading progresses.
                if (i % 5 !== 4) yield* Fiber.interrupt(fiber)
                const exit = yield* Fiber.await(fiber)
                if (Exit.isInterrupted(exit)) continue
                const result = { f: yield* exit }
                if (Option.isNone(result.f)) return got
                got.push(hex(result.f.value))
              }
              return got
            }))
            yield* feed(reader, cut(data, cuts), yields)
            const got = yield* Fiber.join(reading)
            assert.deepStrictEqual(got, encoded.map((e) => hex(e.decoded)))
          }),
        { numRuns: 200 }
      ))

    it.live("forEachFrame: a handler interrupted or failing leaves its frame buffered for the next read", () =>
      Effect.gen(function*() {
        const layout: Framing.LengthDelimitedOptions = { lengthFieldLength: 1 }
        const reader = makeReader({ bufferSize: 64 })
        reader.push(Buffer.from([1, 0x61, 1, 0x62, 1, 0x63]))
        reader.end()
        const seen: Array<string> = []
        const exit = yield* Effect.exit(Framing.forEachFrame(reader, (f) => {
          const s = Buffer.from(f).toString()
          seen.push(s)
          return s === "b" ? Effect.fail("boom" as const) : Effect.void
        }, layout))
        assert.deepStrictEqual(seen, ["a", "b"])
        assert.deepStrictEqual(exit, Exit.fail("boom"))
        const next = yield* Framing.readFrame(reader, layout)
        assert.strictEqual(Buffer.from(Option.getOrThrow(next)).toString(), "b")
        // Interrupted inside the handler of "c": "c" stays.
        const fiber = yield* Effect.fork(Framing.forEachFrame(reader, () => Effect.never, layout))
        yield* ticks(2)
        yield* Fiber.interrupt(fiber)
        const last = yield* Framing.readFrame(reader, layout)
        assert.strictEqual(Buffer.from(Option.getOrThrow(last)).toString(), "c")
        assert.isTrue(Option.isNone(yield* Framing.readFrame(reader, layout)))
      }))

    it.live("forEachFrame: a view stays intact while its handler waits and more bytes arrive", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024 })
        reader.push(Buffer.from([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1]))
        const seen: Array<string> = []
        const fiber = yield* Effect.fork(Framing.forEachFrame(reader, (f) =>
          Effect.gen(function*() {
            yield* ticks(3)
            seen.push(hex(f))
          })))
        yield* ticks(1)
        reader.push(Buffer.from([9, 0, 0, 0, 2, 7, 7]))
        yield* ticks(1)
        reader.end()
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(seen, ["010203", "09", "0707"])
      }))

    it.live("forEachFrameSync, default layout (its 4-byte fast path): any chunking gives every frame once, in order; a frame over the bound fails after those before it", () =>
      property(
        [
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
          fc.array(fc.nat({ max: 6000 }), { maxLength: 30 }),
          pauses,
          fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined })
        ],
        (bodies, cuts, yields, max) =>
          Effect.gen(function*() {
            const data = Buffer.concat(
              bodies.map((b) => refEncode(defaultLayout, { prefix: new Uint8Array(0), body: b }).wire)
            )
            const reader = makeReader({ bufferSize: 64 })
            const options = max === undefined ? undefined : { maxFrameLength: max }
            const reading = yield* Effect.fork(readAllWith("forEachFrameSync", reader, options as never))
            yield* feed(reader, cut(data, cuts), yields)
            const { exit, got } = yield* Fiber.join(reading)
            const firstTooLong = max === undefined ? -1 : bodies.findIndex((b) => b.byteLength > max)
            if (firstTooLong === -1) {
              assert.isTrue(Exit.isSuccess(exit), String(exit))
              assert.deepStrictEqual(got, bodies.map(hex))
              assert.isTrue(yield* reader.isAtEof)
              return
            }
            assert.deepStrictEqual(got, bodies.slice(0, firstTooLong).map(hex))
            const error = yield* Effect.flip(exit)
            assert.instanceOf(error, FrameError)
            assert.strictEqual((error as FrameError).reason, "FrameTooLong")
            assert.strictEqual((error as FrameError).announced, bodies[firstTooLong]!.byteLength)
            const before = bodies.slice(0, firstTooLong).reduce((n, b) => n + 4 + b.byteLength, 0)
            assert.strictEqual(yield* reader.bytesBuffered, data.byteLength - before)
          }),
        { numRuns: 400 }
      ))

    it.live("forEachFrameSync: frames of one chunk are views of it, never copies", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024 })
        const chunk = Buffer.from([0, 0, 0, 2, 1, 2, 0, 0, 0, 1, 3])
        reader.push(chunk)
        reader.end()
        const seen: Array<[number, number]> = []
        yield* Framing.forEachFrameSync(reader, (view, start, end) => {
          assert.strictEqual(view.buffer, chunk.buffer)
          seen.push([view.byteOffset + start - chunk.byteOffset, view.byteOffset + end - chunk.byteOffset])
        })
        assert.deepStrictEqual(seen, [[4, 6], [10, 11]])
      }))

    it.live("forEachFrameSync: false stops after that frame (consumed); a throw is a defect and leaves its frame buffered", () =>
      Effect.gen(function*() {
        const layout: Framing.LengthDelimitedOptions = { lengthFieldLength: 1 }
        const reader = makeReader({ bufferSize: 64 })
        reader.push(Buffer.from([1, 0x61, 0, 1, 0x62, 1, 0x63, 1, 0x64]))
        reader.end()
        const seen: Array<string> = []
        const text = (chunk: Uint8Array, start: number, end: number) =>
          Buffer.from(chunk.subarray(start, end)).toString()
        // The empty frame stops the first pass.
        yield* Framing.forEachFrameSync(reader, (chunk, start, end) => {
          seen.push(text(chunk, start, end))
          return start !== end
        }, layout)
        assert.deepStrictEqual(seen, ["a", ""])
        const exit = yield* Effect.exit(Framing.forEachFrameSync(reader, (chunk, start, end) => {
          if (text(chunk, start, end) === "c") throw new Error("boom")
          seen.push(text(chunk, start, end))
        }, layout))
        assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die")
        assert.deepStrictEqual(seen, ["a", "", "b"])
        const next = yield* Framing.readFrame(reader, layout)
        assert.strictEqual(Buffer.from(Option.getOrThrow(next)).toString(), "c")
        yield* Framing.forEachFrameSync(reader, (chunk, start, end) => void seen.push(text(chunk, start, end)), layout)
        assert.deepStrictEqual(seen, ["a", "", "b", "d"])
      }))

    it.live("forEachFrameSync: interrupted while waiting inside a frame, it consumes the frames it handed out and nothing of the partial one", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024 })
        reader.push(Buffer.from([0, 0, 0, 1, 7, 0, 0, 0, 3, 8]))
        const seen: Array<string> = []
        const fiber = yield* Effect.fork(
          Framing.forEachFrameSync(reader, (chunk, start, end) => void seen.push(hex(chunk.subarray(start, end))))
        )
        yield* ticks(2)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(seen, ["07"])
        assert.strictEqual(yield* reader.bytesBuffered, 5)
        reader.push(Buffer.from([9, 9]))
        reader.end()
        const rest = yield* Framing.readFrame(reader)
        assert.strictEqual(hex(Option.getOrThrow(rest)), "080909")
      }))

    it.live("a clean end of stream is none; an end inside the header is UnexpectedEof", () =>
      Effect.gen(function*() {
        const empty = makeReader()
        empty.end()
        assert.isTrue(Option.isNone(yield* Framing.readFrame(empty)))
        const partial = makeReader()
        partial.push(Buffer.from([0, 0]))
        partial.end()
        const error = yield* Effect.flip(Framing.readFrame(partial))
        assert.instanceOf(error, ReadError)
        assert.strictEqual((error as ReadError).reason, "UnexpectedEof")
        assert.strictEqual(hex((error as ReadError).partial!), "0000")
      }))

    it.live("a negative adjusted length is InvalidLength", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(Buffer.from([0, 1, 9, 9]))
        const error = yield* Effect.flip(Framing.readFrame(reader, { lengthFieldLength: 2, lengthAdjustment: -2 }))
        assert.instanceOf(error, FrameError)
        assert.strictEqual((error as FrameError).reason, "InvalidLength")
        assert.strictEqual((error as FrameError).announced, 1)
      }))

    it.live("an 8-byte length beyond 2^53 is FrameTooLong, not a wrong number", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]))
        const error = yield* Effect.flip(Framing.readFrame(reader, { lengthFieldLength: 8 }))
        assert.strictEqual((error as FrameError).reason, "FrameTooLong")
      }))
  })

  describe("exact reads and integers, any chunking", () => {
    type Kind = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "uint64" | "int64"
    const intValue: fc.Arbitrary<{ kind: Kind; endian: "big" | "little"; value: number | bigint }> = fc.oneof(
      fc.record({
        kind: fc.constant<Kind>("uint8"),
        endian: fc.constant("big" as const),
        value: fc.integer({ min: 0, max: 255 })
      }),
      fc.record({
        kind: fc.constant<Kind>("int8"),
        endian: fc.constant("big" as const),
        value: fc.integer({ min: -128, max: 127 })
      }),
      fc.record({
        kind: fc.constant<Kind>("uint16"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.integer({ min: 0, max: 0xffff })
      }),
      fc.record({
        kind: fc.constant<Kind>("int16"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.integer({ min: -0x8000, max: 0x7fff })
      }),
      fc.record({
        kind: fc.constant<Kind>("uint32"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.integer({ min: 0, max: 0xffffffff })
      }),
      fc.record({
        kind: fc.constant<Kind>("int32"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.integer({ min: -0x80000000, max: 0x7fffffff })
      }),
      fc.record({
        kind: fc.constant<Kind>("uint64"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
      }),
      fc.record({
        kind: fc.constant<Kind>("int64"),
        endian: fc.constantFrom("big" as const, "little" as const),
        value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
      })
    )
    const refInt = ({ endian, kind, value }: { kind: Kind; endian: "big" | "little"; value: number | bigint }) => {
      const width = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, uint64: 8, int64: 8 }[kind]
      const b = Buffer.alloc(width)
      const le = endian === "little"
      const v = value as never
      if (kind === "uint64") void (le ? b.writeBigUInt64LE(v) : b.writeBigUInt64BE(v))
      else if (kind === "int64") void (le ? b.writeBigInt64LE(v) : b.writeBigInt64BE(v))
      else if (kind.startsWith("u")) void (le ? b.writeUIntLE(v, 0, width) : b.writeUIntBE(v, 0, width))
      else void (le ? b.writeIntLE(v, 0, width) : b.writeIntBE(v, 0, width))
      return b
    }
    const readers = {
      uint8: Framing.readUint8,
      int8: Framing.readInt8,
      uint16: Framing.readUint16,
      int16: Framing.readInt16,
      uint32: Framing.readUint32,
      int32: Framing.readInt32,
      uint64: Framing.readUint64,
      int64: Framing.readInt64
    } as const

    it.live("integers of every width and order read back, then a clean end is none", () =>
      property(
        [fc.array(intValue, { maxLength: 20 }), fc.array(fc.nat({ max: 200 }), { maxLength: 20 }), pauses],
        (values, cuts, yields) =>
          Effect.gen(function*() {
            const data = Buffer.concat(values.map(refInt))
            const reader = makeReader({ bufferSize: 8 })
            const reading = yield* Effect.fork(Effect.gen(function*() {
              const got: Array<number | bigint> = []
              for (const v of values) {
                got.push(
                  yield* (readers[v.kind] as (
                    r: Reader.Reader,
                    e?: "big" | "little"
                  ) => Effect.Effect<number | bigint, unknown>)(reader, v.endian)
                )
              }
              const end = yield* Framing.readUint32OrNone(reader)
              return { got, end }
            }))
            yield* feed(reader, cut(data, cuts), yields)
            const { end, got } = yield* Fiber.join(reading)
            assert.deepStrictEqual(got, values.map((v) => v.value))
            assert.isTrue(Option.isNone(end))
          }),
        { numRuns: 300 }
      ))

    it.live("readExactlyOrNone: records until a clean end, UnexpectedEof only inside one", () =>
      property(
        [
          fc.integer({ min: 1, max: 9 }),
          fc.uint8Array({ maxLength: 100 }),
          fc.array(fc.nat({ max: 100 }), { maxLength: 15 }),
          pauses
        ],
        (n, data, cuts, yields) =>
          Effect.gen(function*() {
            const reader = makeReader({ bufferSize: 8 })
            const reading = yield* Effect.fork(
              Effect.gen(function*() {
                const got: Array<string> = []
                for (let i = 0; i < 200; i++) {
                  const record = yield* Framing.readExactlyOrNone(reader, n)
                  if (Option.isNone(record)) return { got, error: undefined }
                  got.push(hex(record.value))
                }
                return { got, error: undefined }
              }).pipe(Effect.catchAll((error) => Effect.succeed({ got: [] as Array<string>, error })))
            )
            yield* feed(reader, cut(data, cuts), yields)
            const result = yield* Fiber.join(reading)
            const whole = Math.floor(data.byteLength / n)
            if (data.byteLength % n === 0) {
              assert.deepStrictEqual(
                result.got,
                Array.from({ length: whole }, (_, i) => hex(data.subarray(i * n, i * n + n)))
              )
            } else {
              assert.instanceOf(result.error, ReadError)
              assert.strictEqual((result.error as ReadError).reason, "UnexpectedEof")
              assert.strictEqual(hex((result.error as ReadError).partial!), hex(data.subarray(whole * n)))
            }
          }),
        { numRuns: 300 }
      ))

    it.live("bad arguments are InvalidArgument, nothing consumed", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(Buffer.from([1, 2, 3, 4]))
        const errors = [
          yield* Effect.flip(Framing.readExactlyOrNone(reader, -1)),
          yield* Effect.flip(Framing.readExactlyOrNone(reader, 1.5)),
          yield* Effect.flip(Framing.readUint16(reader, "middle" as any)),
          yield* Effect.flip(Framing.readFrame(reader, { lengthFieldLength: 5 as any })),
          yield* Effect.flip(Framing.readFrame(reader, { numSkip: 9 })),
          yield* Effect.flip(Framing.readFrame(reader, { maxFrameLength: -1 })),
          yield* Effect.flip(Framing.readFrame(reader, { lengthAdjustment: Number.NaN })),
          yield* Effect.flip(Stream.runDrain(Framing.frames("reader" as any))),
          yield* Effect.flip(Framing.forEachFrame<never, never>(reader, "f" as any)),
          yield* Effect.flip(Framing.forEachFrameSync(reader, "f" as any)),
          yield* Effect.flip(Framing.forEachFrameSync("reader" as any, () => {})),
          yield* Effect.flip(Framing.forEachFrameSync(reader, () => {}, { lengthFieldOffset: -1 }))
        ]
        for (const error of errors) assert.instanceOf(error, InvalidArgument)
        assert.strictEqual(yield* reader.bytesBuffered, 4)
      }))
  })

  describe("over loopback sockets", () => {
    const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

    it.live("writeFrame and frameSink put the reference bytes on the wire, for any layout", () =>
      property(
        [scenario, fc.boolean()],
        ({ frames, layout }, useSink) =>
          Effect.scoped(Effect.gen(function*() {
            const server = yield* rawServer()
            const conn = yield* Tcp.connect(where(server.port))
            const peer = yield* accept(server)
            const received = yield* Effect.fork(readToEnd(peer))
            // What a read returns for each frame (zero prefix bytes: a write cannot know stripped ones).
            const zeroed = frames.map((f) => ({ prefix: new Uint8Array(f.prefix.byteLength), body: f.body }))
            const encoded = zeroed.map((f) => refEncode(layout, f))
            const decoded = encoded.map((e) => e.decoded)
            if (useSink) yield* Stream.run(Stream.fromIterable(decoded), Framing.frameSink(conn.writer, layout))
            else for (const frame of decoded) yield* Framing.writeFrame(conn.writer, frame, layout)
            yield* conn.writer.close
            const wire = yield* Fiber.join(received)
            assert.strictEqual(hex(wire), hex(Buffer.concat(encoded.map((e) => e.wire))))
          })),
        { numRuns: 8 }
      ))

    it.live("round trip: frames written by one end are read by the other, in chunks the network chooses", () =>
      property(
        [scenario, fc.constantFrom(...methods)],
        ({ cuts, frames, layout }, method) =>
          Effect.scoped(Effect.gen(function*() {
            const server = yield* rawServer()
            const conn = yield* Tcp.connect(where(server.port))
            const peer = yield* accept(server)
            const encoded = frames.map((f) => refEncode(layout, f))
            const data = Buffer.concat(encoded.map((e) => e.wire))
            const reading = yield* Effect.fork(readAllWith(method, conn.reader, layout))
            yield* writeChunksThenEnd(peer, cut(data, cuts))
            const { exit, got } = yield* Fiber.join(reading)
            assert.isTrue(Exit.isSuccess(exit))
            assert.deepStrictEqual(got, encoded.map((e) => hex(e.decoded)))
          })),
        { numRuns: 6 }
      ))

    it.live("a header announcing 1 GiB fails at once, without waiting for the body", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const header = Buffer.alloc(4)
        header.writeUInt32BE(1024 * 1024 * 1024)
        yield* rawWrite(peer, header)
        const error = yield* Effect.flip(Framing.readFrame(conn.reader, { maxFrameLength: 1024 * 1024 }))
        assert.instanceOf(error, FrameError)
        assert.strictEqual((error as FrameError).announced, 1024 * 1024 * 1024)
        assert.strictEqual(yield* conn.reader.bytesBuffered, 4)
      })))

    it.live("writes reject what they cannot encode, writing nothing", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const received = yield* Effect.fork(readToEnd(peer))
        const errors = [
          yield* Effect.flip(Framing.writeFrame(conn.writer, new Uint8Array(300), { lengthFieldLength: 1 })),
          yield* Effect.flip(Framing.writeFrame(conn.writer, new Uint8Array(10), { maxFrameLength: 9 })),
          yield* Effect.flip(Framing.writeFrame(conn.writer, new Uint8Array(1), { numSkip: 0 })),
          yield* Effect.flip(Framing.writeFrame(conn.writer, "text" as any)),
          yield* Effect.flip(Framing.writeUint8(conn.writer, 256)),
          yield* Effect.flip(Framing.writeInt8(conn.writer, -129)),
          yield* Effect.flip(Framing.writeUint16(conn.writer, 1.5)),
          yield* Effect.flip(Framing.writeUint32(conn.writer, -1)),
          yield* Effect.flip(Framing.writeUint64(conn.writer, 1 as any)),
          yield* Effect.flip(Framing.writeInt64(conn.writer, 2n ** 63n)),
          yield* Effect.flip(Framing.writeUint16(conn.writer, 1, "native" as any))
        ]
        assert.deepStrictEqual(errors.map((e) => e._tag), [
          "FrameError",
          "FrameError",
          "InvalidArgument",
          "InvalidArgument",
          ...Array.from({ length: 7 }, () => "InvalidArgument")
        ])
        yield* Framing.writeUint16(conn.writer, 0x0102, "little")
        yield* Framing.writeInt64(conn.writer, -2n)
        yield* conn.writer.close
        assert.strictEqual(hex(yield* Fiber.join(received)), "0201fffffffffffffffe")
      })))

    it.live("frames over a socket: a Stream, an echo through frameSink, the count checked", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const bodies = Array.from({ length: 2000 }, (_, i) => Buffer.alloc(i % 97, i & 0xff))
        const wire = Buffer.concat(
          bodies.map((b) =>
            refEncode({ lengthFieldOffset: 0, lengthFieldLength: 4, endian: "big", lengthAdjustment: 0, numSkip: 4 }, {
              prefix: new Uint8Array(0),
              body: b
            }).wire
          )
        )
        const echoed = yield* Effect.fork(readToEnd(peer))
        yield* Effect.fork(writeChunksThenEnd(peer, cut(wire, [1, 5, 100, 1000, 5000, 20000, 60000])))
        yield* Framing.frames(conn.reader).pipe(Stream.run(Framing.frameSink(conn.writer)))
        yield* conn.writer.close
        assert.strictEqual(hex(yield* Fiber.join(echoed)), hex(wire))
        const collected = yield* Stream.runCollect(Framing.frames(conn.reader))
        assert.strictEqual(Chunk.size(collected), 0)
      })))
  })
})

/** Yields `k` times, then completes: a timer measured in scheduler turns. */
const ticksYield = (k: number): Effect.Effect<void> =>
  k <= 0 ? Effect.void : Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => ticksYield(k - 1)))
