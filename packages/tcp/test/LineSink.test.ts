import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as Reader from "../src/Reader.js"
import * as Tcp from "../src/Tcp.js"
import { InvalidArgument } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import * as Writer from "../src/Writer.js"
import { accept, rawServer, readToEnd, writeChunksThenEnd } from "./utils/rawServer.js"
import { feed, makeReader } from "./utils/reader.js"

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

describe("Writer.lineSink and Reader.readUntilString", () => {
  it.live("reader.lines into Writer.lineSink keeps every line break (a line relay)", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* rawServer()
      const input = yield* Tcp.connect(where(server.port))
      const inputPeer = yield* accept(server)
      const output = yield* Tcp.connect(where(server.port))
      const outputPeer = yield* accept(server)
      const text = Array.from({ length: 3000 }, (_, i) => `line ${i} ${"é".repeat(i % 7)}`).join("\n") + "\n"
      const received = yield* Effect.fork(readToEnd(outputPeer))
      const bytes = Buffer.from(text, "utf8")
      yield* Effect.fork(
        writeChunksThenEnd(inputPeer, [bytes.subarray(0, 7), bytes.subarray(7, 5000), bytes.subarray(5000)])
      )
      yield* input.reader.lines.pipe(Stream.run(Writer.lineSink(output.writer)))
      yield* output.writer.close
      assert.strictEqual((yield* Fiber.join(received)).toString("utf8"), text)
    })))

  it.live("an element that is not a string fails InvalidArgument and writes nothing of its chunk", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      const peer = yield* accept(server)
      const received = yield* Effect.fork(readToEnd(peer))
      const error = yield* Effect.flip(Stream.run(Stream.make("a", 42 as any), Writer.lineSink(conn.writer)))
      assert.instanceOf(error, InvalidArgument)
      yield* Stream.run(Stream.make("ok"), Writer.lineSink(conn.writer))
      yield* conn.writer.close
      assert.strictEqual((yield* Fiber.join(received)).toString(), "ok\n")
    })))

  it.live("readUntilString decodes UTF-8 split across chunks, any chunking", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.string({ unit: "grapheme", maxLength: 8 }).filter((s) => !s.includes(";")), { maxLength: 8 }),
          fc.array(fc.nat({ max: 80 }), { maxLength: 10 }),
          (parts, cuts) =>
            Effect.runPromise(Effect.gen(function*() {
              const data = Buffer.from(parts.join(";"), "utf8")
              const points = [0, ...cuts.map((c) => Math.min(c, data.length)).sort((a, b) => a - b), data.length]
              const chunks = points.slice(1).map((p, i) => data.subarray(points[i], p))
              const reader = makeReader({ bufferSize: 8 })
              const reading = yield* Effect.fork(Effect.gen(function*() {
                const got: Array<string> = []
                for (let i = 0; i < 100; i++) {
                  const r = yield* Reader.readUntilString(reader, ";")
                  if (r._tag === "Eof") break
                  got.push(r.text)
                  if (r._tag === "EofWithoutDelimiter") break
                }
                return got
              }))
              yield* feed(reader, chunks)
              const got = yield* Fiber.join(reading)
              const expected = parts.length === 0 || data.length === 0 ? [] : parts
              // A trailing empty part after the last ";" is the end of stream, not a value.
              const trimmed = expected.length > 0 && expected[expected.length - 1] === ""
                ? expected.slice(0, -1)
                : expected
              assert.deepStrictEqual(got, trimmed)
            }))
        ),
        { numRuns: 200 }
      )
    ))
})
