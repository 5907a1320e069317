/**
 * The reader's bounds and argument checks (SPEC §11): every read is bounded by default, a read
 * asking for more than `maxReadLength` fails before buffering, and a wrong number or a wrong
 * `readChunks` answer is an `InvalidArgument` that consumes nothing and leaves the reader usable.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import type { ReaderImpl } from "../src/internal/reader.js"
import * as Reader from "../src/Reader.js"
import * as Tcp from "../src/Tcp.js"
import type { InvalidArgument, ReadError } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { accept, rawServer, rawWrite } from "./utils/rawServer.js"
import { fakeSource, feed, makeReader } from "./utils/reader.js"

const bytes = (s: string) => Buffer.from(s)
const text = (b: Uint8Array) => Buffer.from(b).toString()

/** The failure of `effect`, run synchronously (these reads must answer without waiting). */
const failureOf = (effect: Effect.Effect<unknown, ReadError | InvalidArgument>): ReadError | InvalidArgument => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${String(exit.value)}`)
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) return assert.fail(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

const assertInvalid = (error: ReadError | InvalidArgument, argument: string) => {
  assert.strictEqual(error._tag, "InvalidArgument", error.message)
  assert.strictEqual((error as InvalidArgument).argument, argument)
}

/** A reader holding "abcdefgh" and the end of stream: the state every check must leave intact. */
const loaded = (config: { readonly maxReadLength?: number } = {}): ReaderImpl => {
  const reader = makeReader({ bufferSize: 1024, ...config })
  reader.push(bytes("abcdefgh"))
  return reader
}

const assertUntouched = (reader: ReaderImpl) => {
  assert.strictEqual(Effect.runSync(reader.bytesBuffered), 8)
  assert.strictEqual(text(Effect.runSync(reader.readExactly(3))), "abc")
  assert.strictEqual(text(Option.getOrThrow(Effect.runSync(reader.read(2)))), "de")
  assert.strictEqual(Effect.runSync(reader.bytesBuffered), 3)
}

const badCounts: ReadonlyArray<unknown> = [NaN, -1, 1.5, 8.5, Infinity, -Infinity, 2 ** 53, 1e309, "3", null, {}, true]

describe("Reader bounds and arguments", () => {
  describe("wrong numbers are InvalidArgument, consume nothing, and leave the reader usable", () => {
    it("read(1.5) and readExactly(1.5) (a computed len / 2) no longer break the connection", () => {
      for (const op of ["read", "readExactly", "peek"] as const) {
        const reader = loaded()
        assertInvalid(failureOf(reader[op](1.5)), op === "read" ? "maxBytes" : "n")
        assertUntouched(reader)
      }
    })

    it("every read taking a count rejects NaN, negatives, fractions, Infinity, 2**53 and non-numbers", () => {
      for (const value of badCounts) {
        for (const op of ["read", "readExactly", "peek"] as const) {
          const reader = loaded()
          assertInvalid(failureOf(reader[op](value as number)), op === "read" ? "maxBytes" : "n")
          assertUntouched(reader)
        }
        const reader = loaded()
        if (value !== Infinity) {
          assertInvalid(failureOf(reader.readUntil(",", { maxLength: value as number })), "maxLength")
          assertUntouched(reader)
        }
      }
    })

    it("readUntil rejects a delimiter or options of the wrong type", () => {
      for (
        const [delimiter, options, argument] of [
          [42, undefined, "delimiter"],
          [null, undefined, "delimiter"],
          [",", "x", "options"],
          [",", { keepDelimiter: "yes" }, "keepDelimiter"]
        ] as const
      ) {
        const reader = loaded()
        assertInvalid(failureOf(reader.readUntil(delimiter as never, options as never)), argument)
        assertUntouched(reader)
      }
    })

    it("the check happens when the effect runs, and an argument whose toString throws is still reported", () => {
      const hostile = {
        toString: () => {
          throw new Error("boom")
        }
      }
      const reader = loaded()
      const effect = reader.readExactly(hostile as never)
      assertInvalid(failureOf(effect), "n")
      assertUntouched(reader)
    })

    it("read(0), readExactly(0) and peek(0) are valid and return no bytes", () => {
      const reader = loaded()
      assert.strictEqual(Effect.runSync(reader.readExactly(0)).byteLength, 0)
      assert.strictEqual(Option.getOrThrow(Effect.runSync(reader.peek(0))).byteLength, 0)
      assert.strictEqual(Option.getOrThrow(Effect.runSync(reader.read(0))).byteLength, 0)
      assertUntouched(reader)
    })
  })

  describe("readChunks: a wrong answer fails readChunks, never spins or hangs", () => {
    const answers: ReadonlyArray<readonly [string, unknown]> = [
      ["Consumed(NaN)", Reader.Consumed(NaN)],
      ["Consumed(-1)", Reader.Consumed(-1)],
      ["Consumed(1.5)", Reader.Consumed(1.5)],
      ["Consumed(chunk + 1)", Reader.Consumed(9)],
      ["Consumed(Infinity)", Reader.Consumed(Infinity)],
      ["StopConsumed(x, NaN)", Reader.StopConsumed("x", NaN)],
      ["StopConsumed(x, -1)", Reader.StopConsumed("x", -1)],
      ["not a ChunkResult: undefined", undefined],
      ["not a ChunkResult: null", null],
      ["not a ChunkResult: 0", 0],
      ["not a ChunkResult: {}", {}],
      ["not a ChunkResult: { _tag: 'Bogus' }", { _tag: "Bogus" }],
      ["not a ChunkResult: a string", "Continue"]
    ]
    for (const [name, answer] of answers) {
      it(name, () => {
        const reader = loaded()
        let calls = 0
        const effect = reader.readChunks(() => {
          // Before the fix these answers looped for ever (NaN) or waited for ever: a bounded
          // handler turns the spin into a visible failure instead of hanging the suite.
          if (++calls > 100) throw new Error("readChunks is spinning")
          return answer as Reader.ChunkResult<string>
        })
        assertInvalid(failureOf(effect), "handle")
        assert.strictEqual(calls, 1)
        assertUntouched(reader)
      })
    }

    it.live("a framer answering Consumed(whole frames) gets the same frames whatever the chunking", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.uint8Array({ maxLength: 600 }),
            fc.integer({ min: 1, max: 40 }),
            fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }),
            fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 4 }),
            async (data, frame, cuts, pauses) => {
              const chunks: Array<Uint8Array> = []
              for (let at = 0, i = 0; at < data.length; i++) {
                const size = cuts[i % cuts.length]!
                chunks.push(data.slice(at, at + size))
                at += size
              }
              const reader = makeReader({ bufferSize: 64 })
              const frames: Array<string> = []
              const program = Effect.gen(function*() {
                yield* Effect.fork(feed(reader, chunks, pauses))
                const end = yield* reader.readChunks((chunk) => {
                  const whole = Math.floor(chunk.byteLength / frame) * frame
                  for (let at = 0; at < whole; at += frame) {
                    frames.push(Buffer.from(chunk.subarray(at, at + frame)).toString("hex"))
                  }
                  return Reader.Consumed(whole)
                })
                return end._tag === "EofWithUnconsumed" ? Buffer.from(end.bytes).toString("hex") : ""
              })
              const rest = await Effect.runPromise(program.pipe(Effect.timeout("5 seconds")))
              const expected: Array<string> = []
              const whole = Math.floor(data.length / frame) * frame
              for (let at = 0; at < whole; at += frame) {
                expected.push(Buffer.from(data.subarray(at, at + frame)).toString("hex"))
              }
              assert.deepStrictEqual(frames, expected)
              assert.strictEqual(rest, Buffer.from(data.subarray(whole)).toString("hex"))
            }
          ),
          { numRuns: 150 }
        )
      ))

    it("a handler that is not a function", () => {
      const reader = loaded()
      assertInvalid(failureOf(reader.readChunks("nope" as never)), "handle")
      assertUntouched(reader)
    })

    it.live("Consumed(-1) on a live reader fails at once instead of waiting for ever", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024 })
        const reading = yield* Effect.fork(Effect.flip(reader.readChunks(() => Reader.Consumed(-1))))
        yield* Effect.yieldNow()
        reader.push(bytes("abc"))
        assertInvalid(yield* Fiber.join(reading), "handle")
        assert.strictEqual(yield* reader.bytesBuffered, 3)
      }).pipe(Effect.timeout("2 seconds")))
  })

  describe("every read is bounded by default", () => {
    it("readExactly(n) and peek(n) above maxReadLength fail TooLarge at once, before buffering", () => {
      for (const op of ["readExactly", "peek"] as const) {
        // Nothing buffered and no end of stream: before the fix these waited (and buffered).
        const reader = makeReader({ bufferSize: 64, maxReadLength: 1024 })
        const error = failureOf(reader[op](0xfffffff0))
        assert.strictEqual(error._tag, "ReadError")
        assert.strictEqual((error as ReadError).reason, "TooLarge")
        assert.strictEqual((error as ReadError).limit, "maxReadLength")
        assert.strictEqual(Effect.runSync(reader.bytesBuffered), 0)
      }
    })

    it("readExactly(maxReadLength) itself is allowed", () => {
      const reader = makeReader({ bufferSize: 64, maxReadLength: 16 })
      reader.push(Buffer.alloc(16, 0x61))
      assert.strictEqual(Effect.runSync(reader.readExactly(16)).byteLength, 16)
    })

    it.live("readUntil has a default maxLength: the reader's maxReadLength", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 16, maxReadLength: 100 })
        const reading = yield* Effect.fork(Effect.flip(reader.readUntil("\r\n\r\n")))
        for (let i = 0; i < 20 && reading.unsafePoll() === null; i++) {
          reader.push(Buffer.alloc(16, 0x61))
          yield* Effect.yieldNow()
        }
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error._tag === "ReadError" && error.reason, "LineTooLong")
        assert.strictEqual((error as ReadError).limit, "maxReadLength")
        // Bounded: the reader stopped wanting more soon after the bound.
        assert.isAtMost(yield* reader.bytesBuffered, 100 + 4 + 16)
      }).pipe(Effect.timeout("2 seconds")))

    it("an explicit readUntil maxLength names itself", () => {
      const reader = makeReader({ bufferSize: 1024, maxReadLength: 4 })
      reader.push(bytes("abcdefgh;"))
      const error = failureOf(reader.readUntil(";", { maxLength: 5 }))
      assert.strictEqual((error as ReadError).limit, "maxLength")
      // An explicit larger maxLength is honoured over maxReadLength.
      assert.strictEqual(
        text((Effect.runSync(reader.readUntil(";", { maxLength: 8 })) as { bytes: Uint8Array }).bytes),
        "abcdefgh"
      )
    })

    it("readLine names maxLineLength", () => {
      const reader = makeReader({ bufferSize: 1024, maxLineLength: 4 })
      reader.push(bytes("abcdefgh\n"))
      assert.strictEqual((failureOf(reader.readLine) as ReadError).limit, "maxLineLength")
    })

    it.live("readAll fails TooLarge once more than maxReadLength has arrived, consuming nothing", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 16, maxReadLength: 64 })
        const reading = yield* Effect.fork(Effect.flip(reader.readAll))
        for (let i = 0; i < 10 && reading.unsafePoll() === null; i++) {
          reader.push(Buffer.alloc(16, 0x61))
          yield* Effect.yieldNow()
        }
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error.reason, "TooLarge")
        assert.strictEqual(error.limit, "maxReadLength")
        assert.strictEqual(yield* reader.bytesBuffered, 80)
      }).pipe(Effect.timeout("2 seconds")))

    it.live("readChunks: a handler waiting for more cannot make the reader hold more than maxReadLength", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 16, maxReadLength: 64 })
        const reading = yield* Effect.fork(Effect.flip(reader.readChunks(() => Reader.Consumed(0))))
        for (let i = 0; i < 10 && reading.unsafePoll() === null; i++) {
          reader.push(Buffer.alloc(16, 0x61))
          yield* Effect.yieldNow()
        }
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error._tag === "ReadError" && error.reason, "TooLarge")
        assert.strictEqual(yield* reader.bytesBuffered, 80)
      }).pipe(Effect.timeout("2 seconds")))

    it.scopedLive("maxReadLength as a connect option; a length prefix of 0xFFFFFFF0 fails TooLarge and the connection stays usable", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), { maxReadLength: 1024 })
        const peer = yield* accept(server)
        const prefix = Buffer.alloc(4)
        prefix.writeUInt32BE(0xfffffff0)
        yield* rawWrite(peer, Buffer.concat([prefix, bytes("hello\n")]))
        const length = (yield* conn.reader.readExactly(4)).length === 4 ? prefix.readUInt32BE() : 0
        const error = yield* Effect.flip(conn.reader.readExactly(length))
        assert.strictEqual(error._tag === "ReadError" && error.reason, "TooLarge")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("hello"))
      }))

    it.scopedLive("maxReadLength is validated like the other sizes", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        for (const value of [0, -1, 1.5, NaN, "1"]) {
          const error = yield* Effect.flip(
            Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), { maxReadLength: value as number })
          )
          assert.strictEqual(error._tag, "InvalidArgument")
          assert.strictEqual((error as InvalidArgument).argument, "maxReadLength")
        }
      }))
  })
})

describe("a read that fails with a bound or readTimeout does not end the connection", () => {
  // Every read operation the same way: the failure consumes nothing, the reader is free again
  // (no "ReaderInUse"), the bytes it had are still there in order, and reading goes on.
  const reads: ReadonlyArray<
    readonly [string, (reader: ReaderImpl) => Effect.Effect<unknown, ReadError | InvalidArgument>]
  > = [
    ["readLine", (reader) => reader.readLine],
    ["readUntil", (reader) => reader.readUntil("\r\n")],
    ["readUntil({ maxLength })", (reader) => reader.readUntil("\r\n", { maxLength: 16 })],
    ["readExactly", (reader) => reader.readExactly(40)],
    ["peek", (reader) => reader.peek(40)],
    ["readAll", (reader) => reader.readAll],
    ["readChunks", (reader) => reader.readChunks(() => Reader.Consumed(0))]
  ]

  /** After the failed read: `expected` is still buffered, and a later read gets it, then more. */
  const assertUsable = (reader: ReaderImpl, expected: string) =>
    Effect.gen(function*() {
      assert.strictEqual(yield* reader.bytesBuffered, expected.length)
      reader.push(bytes("tail\n"))
      reader.end()
      let rest = ""
      for (let i = 0; i < 100; i++) {
        const chunk = yield* reader.read().pipe(Effect.timeout("2 seconds"))
        if (Option.isNone(chunk)) break
        rest += text(chunk.value)
      }
      assert.strictEqual(rest, expected + "tail\n")
    })

  for (const [name, read] of reads) {
    it.live(`${name}: readTimeout consumes nothing; the bytes stay and reading goes on`, () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024, maxLineLength: 32, maxReadLength: 64, readTimeout: 50 })
        reader.push(bytes("partial"))
        const error = yield* Effect.flip(read(reader)).pipe(Effect.timeout("2 seconds"))
        assert.strictEqual(error._tag === "ReadError" && error.reason, "Timeout", error.message)
        yield* assertUsable(reader, "partial")
      }))

    it.live(`${name}: a bound (TooLarge or LineTooLong) consumes nothing; the bytes stay and reading goes on`, () =>
      Effect.gen(function*() {
        const source = fakeSource()
        const reader = makeReader({ bufferSize: 16, maxLineLength: 32, maxReadLength: 32 }, source)
        const over = "x".repeat(48)
        const reading = yield* Effect.fork(Effect.flip(read(reader)))
        for (let i = 0; i < over.length / 16 && reading.unsafePoll() === null; i++) {
          reader.push(bytes(over.slice(i * 16, i * 16 + 16)))
          yield* Effect.yieldNow()
        }
        const error = yield* Fiber.join(reading).pipe(Effect.timeout("2 seconds"))
        assert.include(["TooLarge", "LineTooLong"], error._tag === "ReadError" ? error.reason : error._tag)
        // Bounded: no more than the bound plus one chunk is held, and the next chunk pauses the socket.
        assert.isAtMost(yield* reader.bytesBuffered, 32 + 16 + 2)
        reader.push(bytes("y"))
        assert.isTrue(source.paused)
        const held = "x".repeat((yield* reader.bytesBuffered) - 1) + "y"
        yield* assertUsable(reader, held)
      }))
  }
})
