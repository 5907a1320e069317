import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Reader from "../src/Reader.js"
import * as Tcp from "../src/Tcp.js"
import type { InvalidArgument, WriteError } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import * as Writer from "../src/Writer.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { accept, rawServer, rawWrite, readToEnd, readToEndWithStatus } from "./utils/rawServer.js"

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

/** Polls `value` until it stays the same for `stableFor` ms (at most `within` ms). */
const settle = <A>(value: Effect.Effect<A>, stableFor = 150, within = 10_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    let last = yield* value
    let since = Date.now()
    while (Date.now() < deadline) {
      yield* Effect.sleep("25 millis")
      const now = yield* value
      if (now !== last) {
        last = now
        since = Date.now()
      } else if (Date.now() - since >= stableFor) {
        break
      }
    }
    return last
  })

describe("Writer", () => {
  it.scopedLive("isReader and isWriter tell a connection's reader and writer from anything else", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      assert.isTrue(Reader.isReader(conn.reader))
      assert.isTrue(Writer.isWriter(conn.writer))
      assert.isFalse(Reader.isReader(conn.writer))
      assert.isFalse(Writer.isWriter(conn.reader))
      for (const other of [null, undefined, 1, "reader", {}, conn]) {
        assert.isFalse(Reader.isReader(other))
        assert.isFalse(Writer.isWriter(other))
      }
    }))

  it.scopedLive("writes strings, bytes and lines; flushed; bytesWritten; the sink", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const received = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const receiving = yield* Effect.fork(readToEnd(peer))
        yield* conn.writer.write("héllo ")
        yield* conn.writer.write(new Uint8Array([0x77, 0x6f, 0x72, 0x6c, 0x64]))
        yield* conn.writer.writeLine("!")
        yield* Stream.run(Stream.make("a", new Uint8Array([0x62]), "c\n"), conn.writer.sink)
        yield* conn.writer.flushed
        assert.strictEqual(yield* conn.writer.bytesToWrite, 0)
        assert.strictEqual(yield* conn.writer.bytesWritten, Buffer.byteLength("héllo world!\nabc\n"))
        yield* conn.writer.close
        return yield* Fiber.join(receiving)
      }))
      assert.strictEqual(received.toString(), "héllo world!\nabc\n")
    }))

  it.scopedLive("wrong types from JavaScript callers fail InvalidArgument naming the argument; nothing is queued and the writer stays usable", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const received = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const receiving = yield* Effect.fork(readToEnd(peer))
        const hostile: ReadonlyArray<any> = [
          1,
          NaN,
          null,
          undefined,
          {},
          [1, 2],
          Symbol("s"),
          () => "x",
          new ArrayBuffer(4)
        ]
        const failures: Array<InvalidArgument | WriteError> = []
        for (const value of hostile) {
          failures.push(yield* Effect.flip(conn.writer.write(value)))
          failures.push(yield* Effect.flip(Writer.write(conn.writer, value)))
          failures.push(yield* Effect.flip(Stream.run(Stream.make("a", value), conn.writer.sink)))
          if (typeof value !== "string") {
            failures.push(yield* Effect.flip(conn.writer.writeLine(value)))
            failures.push(yield* Effect.flip(Writer.writeLine(value)(conn.writer)))
          }
        }
        for (const notAWriter of [1, null, {}, "w"] as ReadonlyArray<any>) {
          failures.push(yield* Effect.flip(Writer.write(notAWriter, "x")))
          failures.push(yield* Effect.flip(Writer.writeLine(notAWriter, "x")))
          failures.push(yield* Effect.flip(Writer.flushed(notAWriter)))
          failures.push(yield* Effect.flip(Writer.close(notAWriter)))
          failures.push(yield* Effect.flip(Stream.run(Stream.make("x"), Writer.lineSink(notAWriter))))
        }
        for (const failure of failures) {
          assert.strictEqual(failure._tag, "InvalidArgument")
          if (failure._tag === "InvalidArgument") {
            assert.include(["data", "line", "element", "writer"], failure.argument)
            assert.isTrue(failure.message.startsWith(`${failure.argument}: `), failure.message)
          }
        }
        assert.strictEqual(yield* conn.writer.bytesWritten, 0, "nothing was queued")
        assert.isFalse(yield* conn.writer.isClosed)
        yield* conn.writer.writeLine("still usable")
        yield* conn.writer.close
        return yield* Fiber.join(receiving)
      }))
      assert.strictEqual(received.toString(), "still usable\n")
    }))

  it.scopedLive("written bytes reach the peer without an explicit flush", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      const peer = yield* accept(server)
      const arrived = Effect.async<string>((resume) => {
        peer.once("data", (data) => resume(Effect.succeed(String(data))))
      })
      yield* conn.writer.write("no flush\n")
      assert.strictEqual(yield* arrived.pipe(Effect.timeout("5 seconds")), "no flush\n")
    }))

  it.scopedLive("close is idempotent; a write after close fails Closed; flushed after close succeeds", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      yield* accept(server)
      yield* conn.writer.write("x")
      yield* conn.writer.close
      yield* conn.writer.close
      yield* conn.writer.flushed
      assert.isTrue(yield* conn.writer.isClosed)
      const error = yield* Effect.flip(conn.writer.write("y"))
      assert.include(error, { _tag: "WriteError", reason: "Closed" })
    }))

  it.scopedLive("writer-first release: 4 MiB written just before the scope closes all reach the peer, then EOF", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const total = 4 * 1024 * 1024
      const data = Buffer.alloc(total)
      for (let i = 0; i < total; i++) data[i] = (i * 7) % 256
      let receiving: Fiber.RuntimeFiber<{ bytes: Buffer; sawEnd: boolean; error: unknown }> | undefined
      let raw: import("node:net").Socket | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(where(server.port))
        raw = conn.socket.raw
        const peer = yield* accept(server)
        receiving = yield* Effect.fork(readToEndWithStatus(peer))
        yield* conn.writer.write(data)
      }))
      // The scope's close returned only once our descriptor was closed.
      assert.isTrue(raw!.destroyed)
      assert.isTrue(raw!.closed)
      const result = yield* Fiber.join(receiving!)
      assert.isTrue(result.sawEnd, "the peer saw EOF")
      assert.strictEqual(result.error, undefined)
      assert.strictEqual(result.bytes.length, total)
      assert.isTrue(result.bytes.equals(data))
    }))

  describe("half-close", () => {
    it.scopedLive("after writer.close the peer sees EOF and can still reply; our reader reads the reply", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ allowHalfOpen: true })
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const receiving = yield* Effect.fork(readToEndWithStatus(peer))
        yield* conn.writer.writeLine("ping")
        yield* conn.writer.close
        const got = yield* Fiber.join(receiving)
        assert.isTrue(got.sawEnd)
        assert.strictEqual(got.bytes.toString(), "ping\n")
        yield* rawWrite(peer, "pong\n")
        peer.end()
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("pong"))
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.none())
      }))

    it.scopedLive("after the peer's FIN readLine reports none, and a reply we write still reaches the peer", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ allowHalfOpen: true })
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const receiving = yield* Effect.fork(readToEndWithStatus(peer))
        peer.end("hello\n")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("hello"))
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.none())
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.none())
        yield* conn.writer.writeLine("bye")
        yield* conn.writer.flushed
        yield* conn.writer.close
        const got = yield* Fiber.join(receiving)
        assert.isTrue(got.sawEnd)
        assert.strictEqual(got.bytes.toString(), "bye\n")
      }))
  })

  describe("back-pressure", () => {
    it.scopedLive("against a peer that does not read, a write suspends; an interrupted waiting write queues nothing", () =>
      Effect.gen(function*() {
        const writerBufferSize = 64 * 1024
        const size = 16 * 1024
        const server = yield* rawServer({ pauseOnConnect: true })
        const conn = yield* Tcp.connect(where(server.port), { writerBufferSize, bufferAgeLimit: "unlimited" })
        const peer = yield* accept(server)
        let written = 0
        let most = 0
        const writing = yield* Effect.fork(Effect.gen(function*() {
          for (let i = 0; i < 4000; i++) {
            yield* conn.writer.write(Buffer.alloc(size, i % 256))
            written++
            most = Math.max(most, yield* conn.writer.bytesToWrite)
          }
        }))
        const count = yield* settle(Effect.sync(() => written))
        assert.isBelow(count, 4000, "the writes were held back")
        assert.isAtMost(most, writerBufferSize + size)
        assert.isAtLeast(yield* conn.writer.bytesToWrite, 1)
        // The writer is waiting now: interrupt it, then let the peer read everything.
        yield* Fiber.interrupt(writing)
        const done = written
        peer.resume()
        const receiving = yield* Effect.fork(readToEnd(peer))
        yield* conn.writer.close
        const got = yield* Fiber.join(receiving)
        assert.strictEqual(got.length, done * size, "exactly the completed writes arrived")
        for (let block = 0; block < done; block++) {
          if (got[block * size] !== block % 256 || got[block * size + size - 1] !== block % 256) {
            assert.fail(`block ${block} is wrong`)
          }
        }
      }))
  })

  describe("a peer that goes away", () => {
    it.scopedLive("buffer age limit: against a peer that never reads, WriteError BufferAgeLimitExceeded and the connection is torn down", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ pauseOnConnect: true })
        const conn = yield* Tcp.connect(where(server.port), { bufferAgeLimit: "300 millis" })
        yield* accept(server)
        const chunk = Buffer.alloc(64 * 1024, 1)
        const start = Date.now()
        let error: WriteError | InvalidArgument | undefined
        for (let i = 0; i < 2000 && error === undefined; i++) {
          const exit = yield* Effect.exit(conn.writer.write(chunk))
          if (Exit.isFailure(exit)) error = yield* Effect.flip(exit)
        }
        const elapsed = Date.now() - start
        assert.isDefined(error)
        assert.include(error, { _tag: "WriteError", reason: "BufferAgeLimitExceeded" })
        assert.isAtLeast(elapsed, 250)
        assert.isBelow(elapsed, 10_000)
        // Torn down: the socket is destroyed, later writes and flushes fail, reads end in an error.
        assert.isTrue(conn.socket.raw.destroyed)
        assert.include(yield* Effect.flip(conn.writer.write("x")), { reason: "BufferAgeLimitExceeded" })
        assert.strictEqual((yield* Effect.flip(conn.writer.flushed)).reason, "BufferAgeLimitExceeded")
        const read = yield* Effect.exit(conn.reader.readLine)
        assert.isTrue(Exit.isFailure(read))
      }))

    it.scopedLive("buffer age limit: a peer that reads slowly but steadily never trips it, however long bytes keep waiting", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ pauseOnConnect: true })
        const conn = yield* Tcp.connect(where(server.port), { bufferAgeLimit: "200 millis" })
        const peer = yield* accept(server)
        // The peer takes a chunk, then pauses 5 ms: slower than the writer, so bytes wait in
        // Node's buffer for much longer than the limit in all, but none of them for long.
        let received = 0
        peer.on("data", (data: Buffer) => {
          received += data.length
          peer.pause()
          setTimeout(() => peer.resume(), 5)
        })
        peer.resume()
        // Strings with multi-byte characters too: Node counts them in UTF-16 code units.
        const text = "€".repeat(8 * 1024)
        const chunk = Buffer.alloc(32 * 1024, 7)
        let sent = 0
        const start = Date.now()
        for (let i = 0; i < 20_000 && Date.now() - start < 1_200; i++) {
          yield* conn.writer.write(i % 2 === 0 ? chunk : text)
          sent += i % 2 === 0 ? chunk.length : Buffer.byteLength(text)
        }
        assert.isAtLeast(yield* conn.writer.bytesToWrite, 1, "bytes were still waiting at the end")
        yield* conn.writer.flushed
        assert.isFalse(yield* conn.writer.isClosed)
        yield* settle(Effect.sync(() => received))
        assert.strictEqual(received, sent)
      }))

    it.scopedLive("ConsumerLeft: against a peer that resets, the next write or flush fails and consumerLeft completes", () =>
      Effect.gen(function*() {
        // The peer resets once it has seen our first bytes (resetting at accept may beat the
        // handshake's completion: then connect itself fails, with ECONNRESET).
        const server = yield* rawServer({
          onConnection: (socket) => socket.once("data", () => socket.resetAndDestroy())
        })
        const conn = yield* Tcp.connect(where(server.port))
        let error: WriteError | InvalidArgument | undefined
        for (let i = 0; i < 200 && error === undefined; i++) {
          const exit = yield* Effect.exit(Effect.zipRight(conn.writer.write("data\n"), conn.writer.flushed))
          if (Exit.isFailure(exit)) error = yield* Effect.flip(exit)
          else yield* Effect.sleep("10 millis")
        }
        assert.isDefined(error)
        assert.include(error, { _tag: "WriteError", reason: "ConsumerLeft" })
        yield* conn.writer.consumerLeft.pipe(Effect.timeoutFail({
          duration: "5 seconds",
          onTimeout: () => new Error("consumerLeft did not complete")
        }))
      }))

    it.scopedLive("ConsumerLeft: against a peer that closed (FIN, then gone), a later write fails ConsumerLeft", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ onConnection: (socket) => socket.once("data", () => socket.destroy()) })
        const conn = yield* Tcp.connect(where(server.port))
        yield* conn.writer.writeLine("hello")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.none(), "the peer's FIN is end of stream")
        let error: WriteError | InvalidArgument | undefined
        for (let i = 0; i < 200 && error === undefined; i++) {
          const exit = yield* Effect.exit(Effect.zipRight(conn.writer.write("more\n"), conn.writer.flushed))
          if (Exit.isFailure(exit)) error = yield* Effect.flip(exit)
          else yield* Effect.sleep("10 millis")
        }
        assert.include(error, { _tag: "WriteError", reason: "ConsumerLeft" })
        yield* conn.writer.consumerLeft.pipe(Effect.timeout("5 seconds"))
      }))

    it.scopedLive("release against a peer that never reads is bounded by closeTimeout and closes the descriptor", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ pauseOnConnect: true })
        const baseline = fdCount()
        const start = Date.now()
        yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* Tcp.connect(where(server.port), {
            closeTimeout: "300 millis",
            bufferAgeLimit: "10 seconds"
          })
          yield* accept(server)
          // More than the kernel buffers on loopback hold, in one write.
          yield* conn.writer.write(Buffer.alloc(32 * 1024 * 1024, 1))
          yield* Effect.sleep("50 millis")
          assert.isAbove(yield* conn.writer.bytesToWrite, 0)
        }))
        const elapsed = Date.now() - start
        assert.isBelow(elapsed, 5_000)
        assert.isAtLeast(elapsed, 300)
        // Our end is closed; the peer's accepted socket is the raw server's until it closes.
        for (const socket of server.sockets) socket.destroy()
        yield* expectFdsBackTo(baseline)
      }))
  })
})
