import * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import { Tcp, WhereToConnect } from "../src/index.js"
import * as PlatformSocket from "../src/PlatformSocket.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { freePort, hangingListener, rawServer, rawWrite, readToEnd, ticks } from "./utils/rawServer.js"
import { tempDir } from "./utils/tempDir.js"

const decoder = new TextDecoder()
const text = (chunks: ReadonlyArray<Uint8Array>) => decoder.decode(Buffer.concat(chunks))

/** A raw peer and an effect-tcp connection to it, seen as a Socket.Socket. */
const connected = Effect.gen(function*() {
  const server = yield* rawServer()
  const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
  const peer = yield* Queue.take(server.accepted)
  return { server, conn, peer, socket: PlatformSocket.fromConnection(conn) }
})

const endPeer = (peer: { end: (cb: () => void) => unknown }) =>
  Effect.async<void>((resume) => {
    peer.end(() => resume(Effect.void))
  })

describe("PlatformSocket.fromConnection", () => {
  it.scopedLive("run delivers every byte and succeeds at the peer's FIN", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const received: Array<Uint8Array> = []
      const fiber = yield* Effect.fork(socket.run((bytes) => {
        received.push(bytes)
      }))
      yield* rawWrite(peer, "hello ")
      yield* ticks(2)
      yield* rawWrite(peer, "world")
      yield* endPeer(peer)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(text(received), "hello world")
    }))

  it.scopedLive("chunks handed to run are copies the handler may keep", () =>
    Effect.gen(function*() {
      const { conn, peer, socket } = yield* connected
      const kept: Array<Uint8Array> = []
      const fiber = yield* Effect.fork(socket.run((bytes) => {
        kept.push(bytes)
      }))
      const payload = Buffer.alloc(300_000, 7)
      yield* rawWrite(peer, payload)
      yield* endPeer(peer)
      yield* Fiber.join(fiber)
      assert.strictEqual(Buffer.concat(kept).compare(payload), 0)
      assert.isTrue(Option.isNone(yield* conn.reader.read()))
    }))

  it.scopedLive("writer takes bytes and strings; releasing its scope half-closes", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const all = yield* Effect.fork(readToEnd(peer))
      yield* Effect.scoped(Effect.gen(function*() {
        const write = yield* socket.writer
        yield* write("text ")
        yield* write(new TextEncoder().encode("bytes"))
      }))
      assert.strictEqual(String(yield* Fiber.join(all)), "text bytes")
    }))

  it.scopedLive("effects returned by the handler run in order; the first failure fails run", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        socket.run((bytes) => {
          const s = decoder.decode(bytes)
          return s.includes("boom")
            ? Effect.fail("handler failed" as const)
            : Effect.sync(() => {
              seen.push(s)
            })
        })
      )
      yield* rawWrite(peer, "one")
      yield* ticks(3)
      yield* rawWrite(peer, "boom")
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(exit, Exit.fail("handler failed"))
      assert.deepStrictEqual(seen, ["one"])
    }))

  it.scopedLive("onOpen runs once, when the run has started; the run then delivers what the peer sends", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const opens: Array<string> = []
      const opened = yield* Deferred.make<void>()
      const chunks = yield* Queue.unbounded<string>()
      const onOpen = Effect.zipRight(Effect.sync(() => opens.push("open")), Deferred.succeed(opened, undefined))
      const fiber = yield* Effect.fork(
        socket.run((chunk) => Queue.offer(chunks, Buffer.from(chunk).toString()), { onOpen })
      )
      const open = yield* Effect.timeoutOption(Deferred.await(opened), "5 seconds")
      assert.isTrue(Option.isSome(open), "onOpen ran")
      yield* rawWrite(peer, "ping")
      const first = yield* Effect.timeoutOption(Queue.take(chunks), "5 seconds")
      assert.deepStrictEqual(first, Option.some("ping"), "the run delivered what the peer sent after onOpen")
      yield* endPeer(peer)
      const exit = yield* Effect.timeoutOption(Fiber.await(fiber), "5 seconds")
      assert.deepStrictEqual(exit, Option.some(Exit.void), "the run ended at the peer's FIN")
      assert.deepStrictEqual(opens, ["open"], "onOpen ran exactly once")
    }))

  it.scopedLive("writing a CloseEvent ends run with SocketCloseError and half-closes", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const all = yield* Effect.fork(readToEnd(peer))
      const opened = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      const write = yield* socket.writer
      yield* write("bye")
      yield* write(new Socket.CloseEvent(4000, "done"))
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const failure = yield* Effect.flip(exit)
      assert.isTrue(Socket.SocketCloseError.is(failure))
      if (Socket.SocketCloseError.is(failure)) {
        assert.strictEqual(failure.code, 4000)
        assert.strictEqual(failure.closeReason, "done")
      }
      assert.strictEqual(String(yield* Fiber.join(all)), "bye")
    }))

  it.scopedLive("a locally closed connection ends run with SocketCloseError 1000", () =>
    Effect.gen(function*() {
      const { conn, socket } = yield* connected
      const opened = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      conn.socket.raw.destroy()
      const failure = yield* Effect.flip(Fiber.join(fiber))
      assert.isTrue(Socket.SocketCloseError.is(failure))
      if (Socket.SocketCloseError.is(failure)) assert.strictEqual(failure.code, 1000)
    }))

  it.scopedLive("a reset by the peer fails run with SocketGenericError Read", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      const opened = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      peer.resetAndDestroy()
      const failure = yield* Effect.flip(Fiber.join(fiber))
      assert.isTrue(Socket.isSocketError(failure))
      assert.strictEqual((failure as Socket.SocketError).reason, "Read")
    }))

  it.scopedLive("a write to a peer that went away fails with SocketGenericError Write", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      peer.resetAndDestroy()
      const write = yield* socket.writer
      const failure = yield* Effect.flip(Effect.repeat(
        Effect.zipRight(write(Buffer.alloc(64 * 1024)), Effect.sleep("5 millis")),
        { until: () => false }
      ))
      assert.strictEqual(failure.reason, "Write")
    }))

  it.scopedLive("interrupting run leaves unread bytes in the reader", () =>
    Effect.gen(function*() {
      const { conn, peer, socket } = yield* connected
      const received: Array<Uint8Array> = []
      const fiber = yield* Effect.fork(socket.run((bytes) => {
        received.push(bytes)
      }))
      yield* rawWrite(peer, "first")
      yield* Effect.repeat(ticks(1), { until: () => received.length > 0 })
      yield* Fiber.interrupt(fiber)
      yield* rawWrite(peer, "second")
      const rest = yield* conn.reader.readExactly(6)
      assert.strictEqual(text(received), "first")
      assert.strictEqual(decoder.decode(rest), "second")
    }))

  it.scopedLive("bytes sent before run are held by the reader (back-pressure) and delivered in order", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
        readerBufferSize: 16 * 1024
      })
      const peer = yield* Queue.take(server.accepted)
      const payload = Buffer.alloc(4 * 1024 * 1024)
      for (let i = 0; i < payload.length; i++) payload[i] = i % 251
      // The peer's writes stall: nobody reads, the reader's buffer is full and the socket paused.
      peer.write(payload)
      peer.end()
      yield* Effect.sleep("200 millis")
      assert.isTrue(peer.writableLength > 0)
      const socket = PlatformSocket.fromConnection(conn)
      const received: Array<Uint8Array> = []
      yield* socket.run((bytes) => {
        received.push(bytes)
      })
      assert.strictEqual(Buffer.concat(received).compare(payload), 0)
    }))

  it.scopedLive("works with Socket.toChannel", () =>
    Effect.gen(function*() {
      const { peer, socket } = yield* connected
      peer.on("data", (chunk) => peer.write(chunk))
      const echoed = yield* Stream.make("a", "b", "c").pipe(
        Stream.map((s) => new TextEncoder().encode(s)),
        Stream.concat(Stream.never),
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.map((bytes) => decoder.decode(bytes)),
        Stream.mapConcat((s) => s.split("")),
        Stream.take(3),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toArray(echoed), ["a", "b", "c"])
    }))
})

describe("PlatformSocket.layer", () => {
  const exchange = Effect.gen(function*() {
    const socket = yield* Socket.Socket
    const write = yield* socket.writer
    const received: Array<Uint8Array> = []
    yield* write("ping\n")
    yield* socket.run((bytes) => {
      received.push(bytes)
    })
    return text(received)
  })

  it.scopedLive("connects over TCP", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({
        onConnection: (peer) => peer.once("data", () => peer.end("pong\n"))
      })
      const answer = yield* exchange.pipe(
        Effect.scoped,
        Effect.provide(PlatformSocket.layer(WhereToConnect.hostAndPort("127.0.0.1", server.port)))
      )
      assert.strictEqual(answer, "pong\n")
    }))

  it.scopedLive("connects over a Unix socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "s.sock")
      yield* rawServer({ path: file, onConnection: (peer) => peer.once("data", () => peer.end("pong\n")) })
      const answer = yield* exchange.pipe(
        Effect.scoped,
        Effect.provide(PlatformSocket.layer(WhereToConnect.file(file)))
      )
      assert.strictEqual(answer, "pong\n")
    }))

  it.scopedLive("fails with ConnectError when the target refuses", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const error = yield* Effect.flip(
        Layer.build(PlatformSocket.layer(WhereToConnect.hostAndPort("127.0.0.1", port)))
      )
      assert.strictEqual(error._tag, "ConnectError")
      if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Refused")
    }))

  it.scopedLive("each run after the first uses a new connection", () =>
    Effect.gen(function*() {
      let count = 0
      const server = yield* rawServer({
        onConnection: (peer) => {
          const n = ++count
          peer.end(`connection ${n}\n`)
        }
      })
      const socket = yield* PlatformSocket.make(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const runOnce = Effect.gen(function*() {
        const received: Array<Uint8Array> = []
        yield* socket.run((bytes) => {
          received.push(bytes)
        })
        return text(received)
      })
      assert.strictEqual(yield* runOnce, "connection 1\n")
      assert.strictEqual(yield* runOnce, "connection 2\n")
      assert.strictEqual(yield* runOnce, "connection 3\n")
    }))

  it.scopedLive("a write to a connection that died waits for the next run's connection", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const socket = yield* PlatformSocket.make(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer1 = yield* Queue.take(server.accepted)
      peer1.resetAndDestroy()
      yield* Effect.sleep("50 millis")
      const write = yield* socket.writer
      const pending = yield* Effect.fork(write("for the next connection"))
      yield* Effect.sleep("50 millis")
      assert.isNull(pending.unsafePoll())
      const run = yield* Effect.fork(socket.run(() => {}))
      const peer2 = yield* Queue.take(server.accepted)
      yield* Fiber.join(pending)
      const received = yield* Effect.fork(readToEnd(peer2))
      yield* Fiber.interrupt(run)
      assert.strictEqual(String(yield* Fiber.join(received)), "for the next connection")
    }))

  it.scopedLive("a run that cannot re-dial fails with SocketGenericError Open", () =>
    Effect.gen(function*() {
      const server = yield* rawServer({ onConnection: (peer) => peer.end() })
      const socket = yield* PlatformSocket.make(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      yield* socket.run(() => {})
      yield* Effect.async<void>((resume) => {
        server.server.close(() => resume(Effect.void))
      })
      const failure = yield* Effect.flip(socket.run(() => {}))
      assert.strictEqual(failure.reason, "Open")
    }))
})

describe("PlatformSocket.layerLazy", () => {
  it.scopedLive("releasing the layer closes the connection it dialed; later runs and writes fail without dialing", () =>
    Effect.gen(function*() {
      const ended = yield* Deferred.make<void>()
      let dialed = 0
      const server = yield* rawServer({
        onConnection: (peer) => {
          dialed++
          peer.once("end", () => {
            peer.end()
            Deferred.unsafeDone(ended, Exit.void)
          })
        }
      })
      const baseline = fdCount()
      const layerScope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        PlatformSocket.layerLazy(WhereToConnect.hostAndPort("127.0.0.1", server.port)),
        layerScope
      )
      const socket = Context.get(context, Socket.Socket)
      const opened = yield* Deferred.make<void>()
      // A client that outlives the layer (as @effect/cluster 0.60's RPC clients do): it runs
      // again whenever a run ends, 20 times at most.
      const client = yield* Effect.fork(
        Effect.either(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) })).pipe(
          Effect.zipLeft(Effect.sleep("10 millis")),
          Effect.replicateEffect(20)
        )
      )
      yield* Deferred.await(opened)
      yield* Scope.close(layerScope, Exit.void)
      yield* Deferred.await(ended)
      const results = yield* Fiber.join(client).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => `dialed ${dialed} times, and a run did not end` })
      )
      assert.strictEqual(dialed, 1)
      for (const result of results) {
        assert.isTrue(result._tag === "Left" && Socket.SocketCloseError.is(result.left), String(result))
      }
      const write = yield* socket.writer
      const failure = yield* Effect.flip(write("after release"))
      assert.isTrue(Socket.SocketCloseError.is(failure))
      yield* expectFdsBackTo(baseline)
    }))

  it.scopedLive("releasing the layer during a dial ends the run with SocketCloseError", () =>
    Effect.gen(function*() {
      const { port } = yield* hangingListener
      const baseline = fdCount()
      const layerScope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        PlatformSocket.layerLazy(WhereToConnect.hostAndPort("127.0.0.1", port), { timeout: "1 minute" }),
        layerScope
      )
      const socket = Context.get(context, Socket.Socket)
      const run = yield* Effect.fork(socket.run(() => {}))
      yield* Effect.sleep("100 millis")
      yield* Scope.close(layerScope, Exit.void)
      const exit = yield* Fiber.await(run).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "run hung" })
      )
      assert.isTrue(Exit.isFailure(exit) && Socket.SocketCloseError.is(Cause.squash(exit.cause)))
      yield* expectFdsBackTo(baseline)
    }))
})
