import * as MsgPack from "@effect/platform/MsgPack"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as Message from "../src/Message.js"
import * as Tcp from "../src/Tcp.js"
import { InvalidArgument } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { property } from "./utils/property.js"
import { accept, rawServer, readToEnd, writeChunksThenEnd } from "./utils/rawServer.js"
import { feed, makeReader } from "./utils/reader.js"

const cut = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [0, ...cuts.map((c) => Math.min(c, data.byteLength)).sort((a, b) => a - b), data.byteLength]
  const out: Array<Uint8Array> = []
  for (let i = 1; i < points.length; i++) out.push(data.subarray(points[i - 1], points[i]))
  return out
}

/** A 4-byte big-endian length, then the bytes: written by hand, independently of Framing. */
const frame = (body: Uint8Array | string): Buffer => {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body)
  const header = Buffer.alloc(4)
  header.writeUInt32BE(bytes.byteLength)
  return Buffer.concat([header, bytes])
}

const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number, label: Schema.String })
type Point = typeof Point.Type
const point: fc.Arbitrary<Point> = fc.record({
  x: fc.integer(),
  y: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => Object.is(d, -0) ? 0 : d),
  label: fc.string({ unit: "grapheme", maxLength: 12 })
})

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

describe("Message", () => {
  describe("JSON frames, any chunking", () => {
    it.live("frames decode to the values, in order; a bad frame is named by index and length", () =>
      property(
        [
          fc.array(fc.oneof({ weight: 5, arbitrary: point }, { weight: 1, arbitrary: fc.constant("bad" as const) }), {
            maxLength: 10
          }),
          fc.array(fc.nat({ max: 400 }), { maxLength: 20 }),
          fc.boolean()
        ],
        (items, cuts, either) =>
          Effect.gen(function*() {
            const bodies = items.map((item) => item === "bad" ? "{\"x\":\"not a number\"}" : JSON.stringify(item))
            const data = Buffer.concat(bodies.map(frame))
            const reader = makeReader({ bufferSize: 16 })
            const schema = Message.json(Point)
            const reading = yield* Effect.fork<unknown, never, never>(
              either
                ? Effect.exit(Stream.runCollect(Message.framesEither(reader, schema)))
                : Effect.exit(Effect.gen(function*() {
                  const got: Array<Point> = []
                  const exit = yield* Effect.exit(
                    Stream.runForEach(Message.frames(reader, schema), (p) => Effect.sync(() => got.push(p)))
                  )
                  return { got, exit }
                }))
            )
            yield* feed(reader, cut(data, cuts))
            const result = yield* Fiber.join(reading)
            const firstBad = items.indexOf("bad")
            if (either) {
              const all = Chunk.toArray(
                (result as unknown as Exit.Exit<Chunk.Chunk<Either.Either<Point, Message.MessageError>>>).pipe(
                  Exit.getOrElse(() => Chunk.empty())
                )
              )
              assert.strictEqual(all.length, items.length)
              all.forEach((e, i) => {
                if (items[i] === "bad") {
                  assert.isTrue(Either.isLeft(e))
                  const error = (e as Either.Left<Message.MessageError, Point>).left
                  assert.strictEqual(error.reason, "Decode")
                  assert.strictEqual(error.index, i)
                  assert.strictEqual(error.length, Buffer.byteLength(bodies[i]!))
                } else {
                  assert.deepStrictEqual(e, Either.right(items[i] as Point))
                }
              })
            } else {
              const { exit, got } =
                (result as unknown as Exit.Success<{ got: Array<Point>; exit: Exit.Exit<void, unknown> }, never>).value
              if (firstBad === -1) {
                assert.isTrue(Exit.isSuccess(exit))
                assert.deepStrictEqual(got, items)
              } else {
                assert.deepStrictEqual(got, items.slice(0, firstBad))
                assert.isTrue(Exit.isFailure(exit))
                const error = (exit as any).cause.error as Message.MessageError
                assert.strictEqual(error._tag, "MessageError")
                assert.strictEqual(error.index, firstBad)
              }
            }
          }),
        { numRuns: 120 }
      ))

    it.live("readFrame: a frame that does not decode is consumed; the next read gets the next frame", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.push(
          Buffer.concat([frame("[1,"), frame("{\"x\":1,\"y\":2,\"label\":\"a\"}"), frame(new Uint8Array([0xff]))])
        )
        reader.end()
        const schema = Message.json(Point)
        const first = yield* Effect.flip(Message.readFrame(reader, schema))
        assert.strictEqual(first._tag, "MessageError")
        assert.strictEqual((first as Message.MessageError).length, 3)
        assert.deepStrictEqual(yield* Message.readFrame(reader, schema), Option.some({ x: 1, y: 2, label: "a" }))
        const invalidUtf8 = yield* Effect.flip(Message.readFrame(reader, schema))
        assert.strictEqual((invalidUtf8 as Message.MessageError).reason, "Decode")
        assert.isTrue(Option.isNone(yield* Message.readFrame(reader, schema)))
      }))
  })

  describe("over loopback sockets", () => {
    it.live("JSON and MessagePack: frameSink on one end, frames on the other, values equal", () =>
      property(
        [fc.array(point, { maxLength: 30 }), fc.boolean()],
        (points, msgpack) =>
          Effect.scoped(Effect.gen(function*() {
            const server = yield* rawServer()
            const conn = yield* Tcp.connect(where(server.port))
            const peer = yield* accept(server)
            const schema: Schema.Schema<Point, Uint8Array> = msgpack ? MsgPack.schema(Point) : Message.json(Point)
            const wire = yield* Effect.fork(readToEnd(peer))
            yield* Stream.run(Stream.fromIterable(points), Message.frameSink(conn.writer, schema))
            yield* conn.writer.close
            const bytes = yield* Fiber.join(wire)
            // The bytes go back through a second connection, cut at arbitrary points.
            const conn2 = yield* Tcp.connect(where(server.port))
            const peer2 = yield* accept(server)
            yield* Effect.fork(writeChunksThenEnd(peer2, cut(bytes, [3, 17, 50, 200])))
            const got = yield* Stream.runCollect(Message.frames(conn2.reader, schema))
            assert.deepStrictEqual(Chunk.toArray(got), points)
          })),
        { numRuns: 6 }
      ))

    it.live("a value that does not encode is MessageError Encode; nothing is written", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const wire = yield* Effect.fork(readToEnd(peer))
        const schema = Message.json(Point)
        const bad = { x: "no", y: 1, label: "a" } as unknown as Point
        const single = yield* Effect.flip(Message.writeFrame(conn.writer, schema, bad))
        assert.strictEqual((single as Message.MessageError).reason, "Encode")
        const inSink = yield* Effect.flip(
          Stream.run(Stream.make({ x: 1, y: 1, label: "ok" }, bad), Message.frameSink(conn.writer, schema))
        )
        assert.strictEqual((inSink as Message.MessageError).index, 1)
        const line = yield* Effect.flip(Message.writeLine(conn.writer, Schema.String, "two\nlines"))
        assert.strictEqual((line as Message.MessageError).reason, "Encode")
        yield* Message.writeFrame(conn.writer, schema, { x: 1, y: 2, label: "z" })
        yield* conn.writer.close
        assert.deepStrictEqual(yield* Fiber.join(wire), frame(JSON.stringify({ x: 1, y: 2, label: "z" })))
      })))

    it.live("JSON lines: lineSink then lines; a bad line is a Left and the stream goes on", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const schema = Schema.parseJson(Point)
        const points: Array<Point> = Array.from({ length: 500 }, (_, i) => ({ x: i, y: i / 2, label: `p${i}` }))
        const wire = yield* Effect.fork(readToEnd(peer))
        yield* Stream.run(Stream.fromIterable(points), Message.lineSink(conn.writer, schema))
        yield* Message.writeLine(conn.writer, schema, points[0]!)
        yield* conn.writer.close
        const text = (yield* Fiber.join(wire)).toString("utf8")
        assert.strictEqual(text, [...points, points[0]].map((p) => JSON.stringify(p) + "\n").join(""))

        const conn2 = yield* Tcp.connect(where(server.port))
        const peer2 = yield* accept(server)
        yield* Effect.fork(
          writeChunksThenEnd(peer2, [
            Buffer.from("{\"x\":1,\"y\":1,\"label\":\"a\"}\nnot json\n{\"x\":2,\"y\":2,\"label\":\"b\"}\n")
          ])
        )
        const all = Chunk.toArray(yield* Stream.runCollect(Message.linesEither(conn2.reader, schema)))
        assert.deepStrictEqual(all.map((e) => e._tag), ["Right", "Left", "Right"])
        assert.strictEqual((all[1] as Either.Left<Message.MessageError, Point>).left.index, 1)
        assert.strictEqual((all[1] as Either.Left<Message.MessageError, Point>).left.length, 8)
      })))

    it.live("a value that is not a Schema is InvalidArgument", () =>
      Effect.gen(function*() {
        const reader = makeReader()
        reader.end()
        const error = yield* Effect.flip(Message.readFrame<unknown, never>(reader, "json" as any))
        assert.instanceOf(error, InvalidArgument)
        const inStream = yield* Effect.flip(Stream.runDrain(Message.lines<unknown, never>(reader, {} as any)))
        assert.instanceOf(inStream, InvalidArgument)
      }))
  })
})
