import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import type { ReaderImpl } from "../src/internal/reader.js"
import * as Reader from "../src/Reader.js"
import * as Tcp from "../src/Tcp.js"
import type { InvalidArgument, ReadError } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { pauses, property } from "./utils/property.js"
import { accept, rawServer, rawWrite, ticks, writeChunksThenEnd } from "./utils/rawServer.js"
import { fakeSource, feed, makeReader } from "./utils/reader.js"
import { chunked, compare, hex, Model, op } from "./utils/readerModel.js"

const bytes = (s: string): Buffer => Buffer.from(s, "utf8")

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

/** Every line `readLine` gives (after `out`), then "none" or the error's reason. */
const readLines = (reader: ReaderImpl, out: Array<string>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100_000; i++) {
      const line = yield* Effect.either(reader.readLine)
      if (line._tag === "Left") {
        return [...out, `error:${line.left._tag === "ReadError" ? line.left.reason : line.left._tag}`]
      }
      if (Option.isNone(line.right)) {
        return [...out, "none"]
      }
      out.push(`line:${line.right.value}`)
    }
    return out
  })

describe("Reader", () => {
  describe("against the reference model (ReaderImpl fed directly)", () => {
    it.live("any input, any chunking, any mix of operations", () =>
      property(
        [chunked(), fc.array(op(16), { maxLength: 25 }), pauses],
        ({ chunks, data }, ops, yields) =>
          Effect.gen(function*() {
            const reader = makeReader({ bufferSize: 32 })
            const reading = yield* Effect.fork(compare(reader, data, ops))
            yield* feed(reader, chunks, yields)
            yield* Fiber.join(reading)
          }),
        { numRuns: 600 }
      ))

    it.live("lines and stream emit exactly the input", () =>
      property(
        [chunked(), pauses, fc.boolean()],
        ({ chunks, data }, yields, useLines) =>
          Effect.gen(function*() {
            const reader = makeReader({ bufferSize: 16 })
            const collecting = yield* Effect.fork(
              useLines
                ? Effect.map(Stream.runCollect(reader.lines), (c) => Chunk.toArray(c).map((l) => `line:${l}`))
                : Effect.map(Stream.runCollect(reader.stream), (c) => [hex(Buffer.concat(Chunk.toArray(c)))])
            )
            yield* feed(reader, chunks, yields)
            const got = yield* Fiber.join(collecting)
            const model = new Model(data)
            const expected: Array<string> = []
            if (useLines) {
              for (let i = 0; i < 10_000; i++) {
                const line = model.apply({ _tag: "ReadLine" })
                if (line === "line:none") break
                expected.push(line)
              }
            } else {
              expected.push(hex(data))
            }
            assert.deepStrictEqual(got, expected)
          }),
        { numRuns: 300 }
      ))

    it.live("lines on long inputs (many lines per chunk) emit what readLine would", () =>
      property(
        [chunked(600, 6), pauses],
        ({ chunks, data }, yields) =>
          Effect.gen(function*() {
            const reader = makeReader({ bufferSize: 256 })
            const collecting = yield* Effect.fork(Stream.runCollect(reader.lines))
            yield* feed(reader, chunks, yields)
            const got = Chunk.toArray(yield* Fiber.join(collecting)).map((l) => `line:${l}`)
            const model = new Model(data)
            const expected: Array<string> = []
            for (let i = 0; i < 100_000; i++) {
              const line = model.apply({ _tag: "ReadLine" })
              if (line === "line:none") break
              expected.push(line)
            }
            assert.deepStrictEqual(got, expected)
          }),
        { numRuns: 200 }
      ))

    it.live("lines and readLineChunks give readLine's lines, then its end or LineTooLong, whatever the chunking", () =>
      property(
        // Few cuts too: batches of many lines per chunk.
        [
          fc.oneof(chunked(), chunked(80, 3)),
          pauses,
          fc.option(fc.integer({ min: 0, max: 24 })),
          fc.nat({ max: 12 }),
          fc.boolean()
        ],
        ({ chunks }, yields, max, stopAt, useStream) =>
          Effect.gen(function*() {
            const maxLineLength = max ?? Infinity
            // The reference: readLine, one line at a time, everything buffered.
            const reference = makeReader({ maxLineLength, bufferSize: 16 })
            yield* feed(reference, chunks)
            const expected = yield* readLines(reference, [])
            const reader = makeReader({ maxLineLength, bufferSize: 16 })
            const collecting = yield* Effect.fork(
              useStream
                ? Effect.map(
                  Effect.either(Stream.runCollect(reader.lines)),
                  (r) =>
                    r._tag === "Left"
                      ? [`error:${r.left.reason}`]
                      : [...Chunk.toArray(r.right).map((l) => `line:${l}`), "none"]
                )
                : Effect.gen(function*() {
                  const out: Array<string> = []
                  const end = yield* Effect.either(reader.readLineChunks((lines) => {
                    for (let i = 0; i < lines.length; i++) {
                      if (out.length === stopAt) return Reader.StopConsumed(undefined, i)
                      out.push(`line:${lines[i]}`)
                    }
                    return Reader.Continue
                  }))
                  if (end._tag === "Left") {
                    return [...out, `error:${end.left._tag === "ReadError" ? end.left.reason : end.left._tag}`]
                  }
                  if (end.right._tag === "Eof") return [...out, "none"]
                  assert.strictEqual(end.right._tag, "Stopped")
                  // The lines after the stop are still there for readLine.
                  return yield* readLines(reader, out)
                })
            )
            yield* feed(reader, chunks, yields)
            const got = yield* Fiber.join(collecting)
            if (useStream && got[got.length - 1]!.startsWith("error:")) {
              // A failing stream loses what it emitted before; compare the error and what precedes it.
              assert.strictEqual(got[got.length - 1], expected[expected.length - 1])
            } else {
              assert.deepStrictEqual(got, expected)
            }
          }),
        { numRuns: 400 }
      ))

    it.effect("readLineChunks: Consumed(n) hands the rest again with the next lines; Stop consumes the batch", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(bytes("a\nb\nc"))
        const seen: Array<ReadonlyArray<string>> = []
        const fiber = yield* Effect.fork(reader.readLineChunks((lines) => {
          seen.push([...lines])
          if (seen.length === 1) return Reader.Consumed(1)
          return lines.includes("d") ? Reader.Stop("done") : Reader.Consumed(0)
        }))
        yield* Effect.yieldNow()
        reader.push(bytes("\nd\ne\n"))
        reader.push(bytes("rest"))
        const end = yield* Fiber.join(fiber)
        assert.deepStrictEqual(end, { _tag: "Stopped", value: "done" })
        assert.deepStrictEqual(seen, [["a", "b"], ["b", "c", "d", "e"]])
        reader.end()
        assert.deepStrictEqual(yield* reader.readLine, Option.some("rest"))
        // A line that ends with the first byte of the next chunk, after a batch.
        const split = makeReader()
        split.push(bytes("a\nbc"))
        split.push(bytes("\nd\r\n"))
        split.end()
        assert.deepStrictEqual(Chunk.toArray(yield* Stream.runCollect(split.lines)), ["a", "bc", "d"])
        // Answers that are not ChunkResults, or count more lines than were handed over: InvalidArgument,
        // and the lines stay for the next read.
        const checked = makeReader()
        checked.push(bytes("p\nq\n"))
        const notAResult = yield* Effect.flip(checked.readLineChunks(() => ({ _tag: "Nope" }) as never))
        assert.strictEqual(notAResult._tag, "InvalidArgument")
        const tooMany = yield* Effect.flip(checked.readLineChunks(() => Reader.StopConsumed(0, 3)))
        assert.strictEqual(tooMany._tag, "InvalidArgument")
        assert.deepStrictEqual(yield* checked.readLine, Option.some("p"))
        // Consumed(0) at end of stream: the bytes left over are handed back.
        const other = makeReader()
        other.push(bytes("x\ny"))
        other.end()
        const left = yield* other.readLineChunks(() => Reader.Consumed(0))
        assert.strictEqual(left._tag, "EofWithUnconsumed")
        assert.strictEqual(left._tag === "EofWithUnconsumed" && Buffer.from(left.bytes).toString(), "x\ny")
      }))

    it.live("readChar yields one code point at a time, decoding like the whole input", () =>
      property(
        [chunked(), pauses],
        ({ chunks, data }, yields) =>
          Effect.gen(function*() {
            const reader = makeReader()
            const reading = yield* Effect.fork(Effect.gen(function*() {
              const chars: Array<string> = []
              for (let i = 0; i <= data.byteLength; i++) {
                const char = yield* reader.readChar
                if (Option.isNone(char)) return chars
                chars.push(char.value)
              }
              return chars
            }))
            yield* feed(reader, chunks, yields)
            const chars = yield* Fiber.join(reading)
            for (const char of chars) assert.strictEqual([...char].length, 1, `one code point: ${JSON.stringify(char)}`)
            assert.strictEqual(chars.join(""), Buffer.from(data).toString("utf8"))
          }),
        { numRuns: 400 }
      ))

    it.live("an interrupted read loses no byte: what it waited for goes to the next read", () =>
      property(
        [
          chunked(),
          pauses,
          fc.array(
            fc.record({
              kind: fc.constantFrom("exactly", "until", "read"),
              n: fc.integer({ min: 1, max: 8 }),
              interruptAfter: fc.option(fc.nat({ max: 3 }))
            }),
            { maxLength: 30 }
          )
        ],
        ({ chunks, data }, yields, steps) =>
          Effect.gen(function*() {
            const reader = makeReader({ bufferSize: 8 })
            const feeding = yield* Effect.fork(feed(reader, chunks, yields))
            const got: Array<Uint8Array> = []
            for (const step of steps) {
              const read: Effect.Effect<Uint8Array, ReadError | InvalidArgument> = step.kind === "exactly"
                ? reader.readExactly(step.n).pipe(
                  Effect.catchTag(
                    "ReadError",
                    (e) => e.reason !== "UnexpectedEof" ? Effect.fail(e) : Effect.succeed(e.partial ?? new Uint8Array())
                  )
                )
                : step.kind === "until"
                ? Effect.map(
                  reader.readUntil(",", { keepDelimiter: true }),
                  (r) => r._tag === "Eof" ? new Uint8Array() : r.bytes
                )
                : Effect.map(reader.read(step.n), Option.getOrElse(() => new Uint8Array()))
              const fiber = yield* Effect.fork(read)
              if (step.interruptAfter !== null) {
                for (let k = 0; k < step.interruptAfter; k++) yield* Effect.yieldNow()
                yield* Fiber.interrupt(fiber)
              }
              const exit = yield* Fiber.await(fiber)
              if (Exit.isSuccess(exit)) got.push(exit.value)
              else assert.isTrue(Exit.isInterrupted(exit), "only interruption")
            }
            yield* Fiber.join(feeding)
            got.push(yield* reader.readAll)
            assert.strictEqual(hex(Buffer.concat(got)), hex(data))
          }),
        { numRuns: 400 }
      ))
  })

  describe("line framing", () => {
    it.effect("CRLF, lone CR, empty lines, unterminated last line, UTF-8 split across chunks", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        const euro = bytes("€") // e2 82 ac
        const reading = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 9 }), () => reader.readLine)
        )
        yield* feed(reader, [
          bytes("a\r"),
          bytes("\nb\rc\n\n\r\n"),
          euro.subarray(0, 1),
          euro.subarray(1, 2),
          Buffer.concat([euro.subarray(2), bytes("x\n")]),
          bytes("\r\r\n"),
          bytes("last\r")
        ], [1])
        const lines = yield* Fiber.join(reading)
        assert.deepStrictEqual(lines, [
          Option.some("a"),
          Option.some("b\rc"),
          Option.some(""),
          Option.some(""),
          Option.some("€x"),
          Option.some("\r"),
          Option.some("last\r"),
          Option.none(),
          Option.none()
        ])
      }))

    it.effect("invalid UTF-8 becomes U+FFFD", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(Buffer.from([0x61, 0xff, 0x62, 0x0a]))
        reader.end()
        assert.deepStrictEqual(yield* reader.readLine, Option.some("a\ufffdb"))
      }))

    it.effect("maxLineLength: a longer line fails LineTooLong, one of exactly the maximum passes", () =>
      Effect.gen(function*() {
        const reader = makeReader({ maxLineLength: 4, bufferSize: 1024 })
        reader.push(bytes("abcd\r\nabcde\n"))
        assert.deepStrictEqual(yield* reader.readLine, Option.some("abcd"))
        const error = yield* Effect.flip(reader.readLine)
        assert.strictEqual(error._tag, "ReadError")
        assert.strictEqual(error.reason, "LineTooLong")
      }))

    it.effect("maxLineLength: a line with no end in sight fails as soon as it is too long, without waiting", () =>
      Effect.gen(function*() {
        const reader = makeReader({ maxLineLength: 8, bufferSize: 1024 })
        const reading = yield* Effect.fork(Effect.flip(reader.readLine))
        reader.push(bytes("0123"))
        yield* Effect.yieldNow()
        reader.push(bytes("456789"))
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error.reason, "LineTooLong")
        const unterminated = makeReader({ maxLineLength: 3 })
        unterminated.push(bytes("abcd"))
        unterminated.end()
        assert.strictEqual((yield* Effect.flip(unterminated.readLine)).reason, "LineTooLong")
      }))

    it.scopedLive("maxLineLength as a connect option", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port), { maxLineLength: 8, readerBufferSize: 4 })
        const peer = yield* accept(server)
        yield* rawWrite(peer, "12345678\r\n123456789\n")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("12345678"))
        assert.strictEqual((yield* Effect.flip(conn.reader.readLine)).reason, "LineTooLong")
      }))

    it.effect("readUntil maxLength", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024 })
        reader.push(bytes("abc;abcdef;"))
        const found = yield* reader.readUntil(";", { maxLength: 3 })
        assert.strictEqual(found._tag, "Found")
        const error = yield* Effect.flip(reader.readUntil(";", { maxLength: 3 }))
        assert.strictEqual(error._tag === "ReadError" && error.reason, "LineTooLong")
      }))
  })

  describe("effects are reusable", () => {
    it.live("the same readUntil effect run twice frames both records", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        const record = reader.readUntil(";")
        const first = yield* Effect.fork(record)
        reader.push(bytes("ab"))
        yield* Effect.yieldNow()
        reader.push(bytes("c;x;yz;"))
        const a = yield* Fiber.join(first)
        const b = yield* record
        const c = yield* record
        assert.deepStrictEqual([a, b, c].map((r) => r._tag === "Eof" ? "eof" : Buffer.from(r.bytes).toString()), [
          "abc",
          "x",
          "yz"
        ])
      }).pipe(Effect.timeout("5 seconds")))

    it.live("the same readChunks effect run twice starts afresh", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        // Wants 4 bytes in one view: Consumed(0) until there are.
        const four = reader.readChunks((chunk) =>
          chunk.byteLength >= 4
            ? { _tag: "StopConsumed", value: Buffer.from(chunk.subarray(0, 4)).toString(), n: 4 }
            : { _tag: "Consumed", n: 0 }
        )
        const first = yield* Effect.fork(four)
        reader.push(bytes("ab"))
        yield* Effect.yieldNow()
        reader.push(bytes("cdef"))
        const a = yield* Fiber.join(first)
        const second = yield* Effect.fork(four)
        yield* Effect.yieldNow()
        reader.push(bytes("gh"))
        const b = yield* Fiber.join(second)
        assert.deepStrictEqual([a, b], [{ _tag: "Stopped", value: "abcd" }, { _tag: "Stopped", value: "efgh" }])
      }).pipe(Effect.timeout("5 seconds")))
  })

  it.effect("hot path: buffered lines are read without suspending (Effect.runSync)", () =>
    Effect.sync(() => {
      const reader = makeReader({ bufferSize: 1 << 20 })
      const text = Array.from({ length: 1000 }, (_, i) => `line ${i}\r\n`).join("")
      // Chunks that cut lines anywhere.
      for (let i = 0; i < text.length; i += 37) reader.push(bytes(text.slice(i, i + 37)))
      const lines = Effect.runSync(Effect.forEach(Array.from({ length: 1000 }), () => reader.readLine))
      assert.strictEqual(lines.length, 1000)
      assert.deepStrictEqual(lines[999], Option.some("line 999"))
      const more = makeReader()
      more.push(bytes("x,y\nzz"))
      Effect.runSync(Effect.all([more.readUntil(","), more.readExactly(2), more.peek(1), more.readByte, more.readChar]))
    }))

  describe("one read at a time", () => {
    it.effect("a second concurrent read fails ReaderInUse; the first still gets its bytes", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        const first = yield* Effect.fork(reader.readLine)
        yield* Effect.yieldNow()
        const second = yield* Effect.flip(reader.readExactly(1))
        assert.strictEqual(second._tag === "ReadError" && second.reason, "ReaderInUse")
        reader.push(bytes("hello\n"))
        assert.deepStrictEqual(yield* Fiber.join(first), Option.some("hello"))
        // Once the first read is done the reader is free again.
        reader.push(bytes("x"))
        assert.deepStrictEqual(Buffer.from(yield* reader.readExactly(1)).toString(), "x")
      }))

    it.live("a read abandoned by a timeout, a race or an interruption frees the reader; nothing is lost", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        // Timed out in this fiber: the next read, here, starts at once.
        assert.isTrue(Option.isNone(yield* Effect.timeoutOption(reader.readLine, "5 millis")))
        const next = yield* Effect.fork(reader.readLine)
        yield* Effect.yieldNow()
        reader.push(bytes("one\n"))
        assert.deepStrictEqual(yield* Fiber.join(next), Option.some("one"))
        // Lost a race: the winner's fiber reads next.
        const raced = yield* Effect.race(reader.readExactly(4), Effect.as(Effect.sleep("5 millis"), "timer"))
        assert.strictEqual(raced, "timer")
        reader.push(bytes("two"))
        assert.strictEqual(Buffer.from(yield* reader.readExactly(3)).toString(), "two")
        // Interrupted in another fiber that is still busy with its finalizers: once the
        // interruption has reached it, another fiber may read.
        const waiting = yield* Effect.fork(Effect.onInterrupt(reader.readByte, () => Effect.sleep("200 millis")))
        yield* Effect.sleep("5 millis")
        yield* Fiber.interruptFork(waiting)
        yield* Effect.sleep("5 millis")
        assert.isNull(waiting.unsafePoll())
        const after = yield* Effect.fork(reader.readLine)
        yield* Effect.yieldNow()
        reader.push(bytes("three\n"))
        assert.deepStrictEqual(yield* Fiber.join(after), Option.some("three"))
        // A read waiting uninterruptibly is never taken for abandoned.
        let got: Option.Option<string> = Option.none()
        const held = yield* Effect.fork(Effect.uninterruptible(Effect.map(reader.readLine, (line) => {
          got = line
        })))
        yield* Effect.sleep("5 millis")
        yield* Fiber.interruptFork(held)
        yield* Effect.sleep("5 millis")
        const refused = yield* Effect.flip(reader.readByte)
        assert.strictEqual(refused.reason, "ReaderInUse")
        reader.push(bytes("four\n"))
        yield* Fiber.await(held)
        assert.deepStrictEqual(got, Option.some("four"))
      }))

    it.scopedLive("on a real connection too", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const first = yield* Effect.fork(conn.reader.readLine)
        yield* ticks(2)
        const second = yield* Effect.flip(conn.reader.readLine)
        assert.strictEqual(second.reason, "ReaderInUse")
        yield* rawWrite(peer, "one\n")
        assert.deepStrictEqual(yield* Fiber.join(first), Option.some("one"))
      }))
  })

  describe("end of stream and errors", () => {
    it.effect("readExactly reports a short read with the partial bytes; end of stream is a value", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(bytes("abc"))
        reader.end()
        const error = yield* Effect.flip(reader.readExactly(5))
        assert.strictEqual(error._tag === "ReadError" && error.reason, "UnexpectedEof")
        assert.strictEqual(Buffer.from((error as ReadError).partial!).toString(), "abc")
        assert.deepStrictEqual(yield* reader.readLine, Option.none())
        assert.deepStrictEqual(yield* reader.read(), Option.none())
        assert.isTrue(yield* reader.isAtEof)
      }))

    it.scopedLive("a peer that resets: buffered bytes first, then ReadError Reset", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        yield* rawWrite(peer, "before\n")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("before"))
        peer.resetAndDestroy()
        const error = yield* Effect.flip(conn.reader.readLine)
        assert.strictEqual(error._tag, "ReadError")
        assert.strictEqual(error.reason, "Reset")
      }))
  })

  describe("over a real socket", () => {
    it.scopedLive("matches the model whatever the network's chunking", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        yield* property(
          [chunked(25), fc.array(op(16), { maxLength: 20 })],
          ({ chunks, data }, ops) =>
            Effect.scoped(Effect.gen(function*() {
              const conn = yield* Tcp.connect(where(server.port), { readerBufferSize: 16 })
              const peer = yield* accept(server)
              yield* Effect.fork(writeChunksThenEnd(peer, chunks))
              yield* compare(conn.reader, data, ops)
            })),
          { numRuns: 40 }
        )
      }))

    it.scopedLive("an interrupted read loses no byte", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        yield* property(
          [
            chunked(25),
            fc.array(fc.record({ n: fc.integer({ min: 1, max: 6 }), after: fc.option(fc.nat({ max: 2 })) }), {
              maxLength: 15
            })
          ],
          ({ chunks, data }, steps) =>
            Effect.scoped(Effect.gen(function*() {
              const conn = yield* Tcp.connect(where(server.port), { readerBufferSize: 8 })
              const peer = yield* accept(server)
              yield* Effect.fork(writeChunksThenEnd(peer, chunks))
              const got: Array<Uint8Array> = []
              for (const step of steps) {
                const fiber = yield* Effect.fork(
                  conn.reader.readExactly(step.n).pipe(
                    Effect.catchTag(
                      "ReadError",
                      (e) => e.reason !== "UnexpectedEof" ? Effect.fail(e) : Effect.succeed(e.partial!)
                    )
                  )
                )
                if (step.after !== null) {
                  yield* ticks(step.after)
                  yield* Fiber.interrupt(fiber)
                }
                const exit = yield* Fiber.await(fiber)
                if (Exit.isSuccess(exit)) got.push(exit.value)
              }
              got.push(yield* conn.reader.readAll)
              assert.strictEqual(hex(Buffer.concat(got)), hex(data))
            })),
          { numRuns: 40 }
        )
      }))

    it.scopedLive("reads larger than readerBufferSize, and the lines stream, with a tiny buffer", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port), { readerBufferSize: 1024 })
        const peer = yield* accept(server)
        const big = Buffer.alloc(1024 * 1024)
        for (let i = 0; i < big.length; i++) big[i] = (i * 13) % 256
        const text = Array.from({ length: 3000 }, (_, i) => `${i}:${"x".repeat(i % 300)}${i % 3 === 0 ? "\r" : ""}\n`)
          .join("")
        yield* Effect.fork(Effect.gen(function*() {
          yield* rawWrite(peer, big)
          for (let i = 0; i < text.length; i += 7919) yield* rawWrite(peer, text.slice(i, i + 7919))
          peer.end()
        }))
        assert.isTrue(Buffer.from(yield* conn.reader.readExactly(big.length)).equals(big))
        const lines = Chunk.toArray(yield* Stream.runCollect(conn.reader.lines))
        assert.strictEqual(lines.length, 3000)
        for (let i = 0; i < 3000; i++) {
          if (lines[i] !== `${i}:${"x".repeat(i % 300)}`) assert.fail(`line ${i}: ${lines[i]}`)
        }
      }))

    it.scopedLive("back-pressure: a flooding peer fills at most readerBufferSize plus a chunk or two; then everything arrives", () =>
      Effect.gen(function*() {
        const total = 8 * 1024 * 1024
        const readerBufferSize = 16 * 1024
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port), { readerBufferSize })
        const peer = yield* accept(server)
        const pattern = Buffer.alloc(64 * 1024)
        for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251
        yield* Effect.fork(Effect.async<void>((resume) => {
          let sent = 0
          const pump = () => {
            while (sent < total) {
              sent += pattern.length
              if (!peer.write(pattern)) return peer.once("drain", pump)
            }
            peer.end(() => resume(Effect.void))
          }
          pump()
        }))
        // Nothing is read: sample the buffered bytes while the peer pushes.
        let most = 0
        for (let i = 0; i < 20; i++) {
          yield* Effect.sleep("15 millis")
          most = Math.max(most, yield* conn.reader.bytesBuffered)
        }
        assert.isAtLeast(most, readerBufferSize, "the buffer filled")
        assert.isAtMost(most, readerBufferSize + 2 * 64 * 1024, "the buffer stayed bounded")
        assert.isBelow(yield* conn.reader.bytesRead, total, "the peer was held back")
        // Now read everything and check every byte.
        let position = 0
        let wrong = -1
        const end = yield* conn.reader.readChunks((chunk) => {
          for (let i = 0; i < chunk.byteLength; i++) {
            if (wrong === -1 && chunk[i] !== ((position + i) % (64 * 1024)) % 251) wrong = position + i
          }
          position += chunk.byteLength
          return { _tag: "Continue" }
        })
        assert.strictEqual(end._tag, "Eof")
        assert.strictEqual(position, total)
        assert.strictEqual(wrong, -1)
      }))
  })

  it.effect("module functions, data-first and data-last", () =>
    Effect.gen(function*() {
      const reader = makeReader()
      reader.push(bytes("ab;cd;efghij\nrest"))
      reader.end()
      const text = (b: Uint8Array) => Buffer.from(b).toString()
      assert.strictEqual(text(Option.getOrThrow(yield* Reader.read(reader, 1))), "a")
      assert.strictEqual(text(Option.getOrThrow(yield* pipe(reader, Reader.read(1)))), "b")
      const first = yield* Reader.readUntil(reader, ";")
      assert.strictEqual(first._tag === "Found" ? text(first.bytes) : first._tag, "")
      const second = yield* pipe(reader, Reader.readUntil(";", { keepDelimiter: true }))
      assert.strictEqual(second._tag === "Found" ? text(second.bytes) : second._tag, "cd;")
      assert.strictEqual(text(Option.getOrThrow(yield* Reader.peek(reader, 2))), "ef")
      assert.strictEqual(text(yield* pipe(reader, Reader.readExactly(2))), "ef")
      assert.strictEqual(text(yield* Reader.readExactly(reader, 1)), "g")
      assert.deepStrictEqual(yield* Reader.readLine(reader), Option.some("hij"))
      assert.strictEqual(text(yield* Reader.readAll(reader)), "rest")
      assert.deepStrictEqual(yield* Reader.read(reader), Option.none())
    }))

  it.effect("pauses the source when the buffer is full and resumes it when drained", () =>
    Effect.gen(function*() {
      const source = fakeSource()
      const reader: ReaderImpl = makeReader({ bufferSize: 10 }, source)
      reader.push(bytes("0123456789"))
      assert.isTrue(source.paused)
      yield* reader.read(5)
      assert.isFalse(source.paused)
    }))
})
