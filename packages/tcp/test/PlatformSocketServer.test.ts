import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as path from "node:path"
import { Address, BindToAddress, BindToPort, Tcp, WhereToConnect, WhereToListen } from "../src/index.js"
import * as PlatformSocketServer from "../src/PlatformSocketServer.js"
import { tempDir } from "./utils/tempDir.js"

const local = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)

/** Echoes every chunk back, through the Socket interface. */
const echo = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    yield* socket.run((bytes) => write(bytes))
  }).pipe(Effect.scoped)

const portOf = (server: PlatformSocketServer.PlatformSocketServer) => {
  assert.strictEqual(server.address._tag, "TcpAddress")
  return server.address._tag === "TcpAddress" ? server.address.port : -1
}

const connectTo = (port: number) => Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", port))

/** Sends a line and reads the echoed line. */
const roundTrip = (conn: Effect.Effect.Success<ReturnType<typeof connectTo>>, line: string) =>
  Effect.zipRight(conn.writer.writeLine(line), conn.reader.readLine).pipe(Effect.map(Option.getOrElse(() => "<eof>")))

describe("PlatformSocketServer", () => {
  it.scopedLive("serves run's handler over TCP, with the address of the listener", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(local)
      assert.strictEqual(server.address._tag === "TcpAddress" && server.address.hostname, "127.0.0.1")
      const port = portOf(server)
      assert.strictEqual(port, server.server.listeningOn)
      yield* Effect.forkScoped(server.run(echo))
      const a = yield* connectTo(port)
      const b = yield* connectTo(port)
      assert.strictEqual(yield* roundTrip(a, "one"), "one")
      assert.strictEqual(yield* roundTrip(b, "two"), "two")
      assert.strictEqual(yield* server.server.numConnections, 2)
    }))

  it.scopedLive("serves over a Unix socket, provided as a Layer", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "s.sock")
      const context = yield* Layer.build(PlatformSocketServer.layer(WhereToListen.onFile(file)))
      const server = Context.get(context, SocketServer.SocketServer)
      assert.deepStrictEqual(server.address, { _tag: "UnixAddress", path: file })
      yield* Effect.forkScoped(server.run(echo))
      const conn = yield* Tcp.connect(WhereToConnect.file(file))
      yield* conn.writer.writeLine("over unix")
      assert.strictEqual(Option.getOrNull(yield* conn.reader.readLine), "over unix")
    }))

  it.scopedLive("connections that arrive before run wait for it", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(local)
      const conn = yield* connectTo(portOf(server))
      yield* conn.writer.writeLine("early")
      yield* Effect.sleep("100 millis")
      yield* Effect.forkScoped(server.run(echo))
      assert.strictEqual(Option.getOrNull(yield* conn.reader.readLine), "early")
      // Released before the run (forked later), the connection would keep its handler busy for
      // the whole grace period.
      yield* conn.writer.close
    }))

  it.scopedLive("handlers get the run's context and the IncomingConnection", () =>
    Effect.gen(function*() {
      class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}
      const server = yield* PlatformSocketServer.make(local)
      yield* Effect.forkScoped(
        server.run((socket) =>
          Effect.gen(function*() {
            const greeting = yield* Greeting
            const incoming = yield* PlatformSocketServer.incomingConnection
            const write = yield* socket.writer
            yield* write(`${greeting} ${
              Option.match(incoming, {
                onNone: () => "?",
                onSome: (c) => Address.format(c.socket.remoteAddress)
              })
            }\n`)
          }).pipe(Effect.scoped)
        ).pipe(Effect.provideService(Greeting, "hello"))
      )
      const conn = yield* connectTo(portOf(server))
      const line = Option.getOrNull(yield* conn.reader.readLine)
      assert.strictEqual(line, `hello ${Address.format(conn.socket.localAddress)}`)
      // The handler ended: the connection is closed (writer released, then the server's end).
      assert.isTrue(Option.isNone(yield* conn.reader.readLine))
    }))

  it.scopedLive("maxConnections applies: a client beyond it is held until a slot frees", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(local, { maxConnections: 1 })
      yield* Effect.forkScoped(server.run(echo))
      const port = portOf(server)
      const first = yield* connectTo(port)
      assert.strictEqual(yield* roundTrip(first, "first"), "first")
      const second = yield* connectTo(port)
      yield* second.writer.writeLine("second")
      yield* Effect.sleep("150 millis")
      assert.strictEqual(yield* server.server.numWaiting, 1)
      assert.strictEqual(yield* second.reader.bytesBuffered, 0)
      yield* first.writer.close
      assert.strictEqual(Option.getOrNull(yield* second.reader.readLine), "second")
    }))

  it.scopedLive("interrupting run lets its handlers finish within the grace period, then interrupts them", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(local, { shutdownGracePeriod: "300 millis" })
      const interrupted = yield* Deferred.make<void>()
      const running = yield* Queue.unbounded<string>()
      const fiber = yield* Effect.fork(server.run((socket) =>
        Effect.gen(function*() {
          const write = yield* socket.writer
          const incoming = yield* PlatformSocketServer.incomingConnection
          if (Option.isNone(incoming)) return
          const line = Option.getOrElse(yield* incoming.value.reader.readLine, () => "")
          yield* Queue.offer(running, line)
          if (line === "quick") {
            yield* Effect.sleep("100 millis")
            yield* write("done\n")
          } else {
            yield* Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
          }
        }).pipe(Effect.scoped)
      ))
      const quick = yield* connectTo(portOf(server))
      const stuck = yield* connectTo(portOf(server))
      yield* quick.writer.writeLine("quick")
      yield* stuck.writer.writeLine("stuck")
      yield* Queue.take(running)
      yield* Queue.take(running)
      const start = Date.now()
      yield* Fiber.interrupt(fiber)
      const elapsed = Date.now() - start
      yield* Deferred.await(interrupted)
      assert.isAtLeast(elapsed, 250)
      assert.strictEqual(Option.getOrNull(yield* quick.reader.readLine), "done")
      assert.isTrue(Option.isNone(yield* quick.reader.readLine))
      assert.isTrue(Option.isNone(yield* stuck.reader.readLine))
      // A new run serves new connections.
      yield* Effect.forkScoped(server.run(echo))
      const again = yield* connectTo(portOf(server))
      assert.strictEqual(yield* roundTrip(again, "again"), "again")
    }))

  it.scopedLive("a failing handler disturbs no other connection; onHandlerError sees the cause", () =>
    Effect.gen(function*() {
      const failures = yield* Queue.unbounded<Cause.Cause<unknown>>()
      const server = yield* PlatformSocketServer.make(local, {
        onHandlerError: (_address, cause) => Queue.offer(failures, cause)
      })
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.gen(function*() {
          const write = yield* socket.writer
          yield* socket.run((bytes): Effect.Effect<void, "handler failed" | Socket.SocketError> =>
            new TextDecoder().decode(bytes).startsWith("fail") ? Effect.fail("handler failed") : write(bytes)
          )
        }).pipe(Effect.scoped)
      ))
      const port = portOf(server)
      const good = yield* connectTo(port)
      const bad = yield* connectTo(port)
      assert.strictEqual(yield* roundTrip(good, "before"), "before")
      yield* bad.writer.writeLine("fail")
      const cause = yield* Queue.take(failures)
      assert.deepStrictEqual(Cause.failureOption(cause), Option.some("handler failed"))
      assert.isTrue(Option.isNone(yield* bad.reader.readLine))
      assert.strictEqual(yield* roundTrip(good, "after"), "after")
    }))

  it.scopedLive("run fails with SocketServerError when the server is closed", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(local)
      const fiber = yield* Effect.fork(server.run(echo))
      yield* Effect.sleep("20 millis")
      yield* server.server.close()
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "SocketServerError")
    }))

  it.live("releasing the layer is graceful: handlers finish within the grace period", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.extend(PlatformSocketServer.make(local, { shutdownGracePeriod: "5 seconds" }), scope)
      const started = yield* Deferred.make<void>()
      yield* Effect.forkIn(
        server.run((socket) =>
          Effect.gen(function*() {
            const write = yield* socket.writer
            yield* Deferred.succeed(started, undefined)
            yield* Effect.sleep("200 millis")
            yield* write("finished\n")
          }).pipe(Effect.scoped)
        ),
        scope
      )
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* connectTo(portOf(server))
        yield* Deferred.await(started)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        const line = yield* conn.reader.readLine
        yield* Fiber.join(closing)
        return Option.getOrNull(line)
      }))
      assert.strictEqual(result, "finished")
    }))

  it.scopedLive("a bad shutdownGracePeriod is an InvalidArgument, as for Server.make", () =>
    Effect.gen(function*() {
      for (const bad of [-1, "soon", Number.NaN, "-5 seconds"]) {
        const error = yield* Effect.flip(PlatformSocketServer.make(local, { shutdownGracePeriod: bad as never }))
        assert.strictEqual(error._tag, "InvalidArgument", String(bad))
        assert.strictEqual(error._tag === "InvalidArgument" && error.argument, "shutdownGracePeriod", String(bad))
      }
    }))

  it.live("releasing the layer interrupts handlers only after the grace period", () =>
    Effect.gen(function*() {
      const grace = 500
      const scope = yield* Scope.make()
      const server = yield* Scope.extend(PlatformSocketServer.make(local, { shutdownGracePeriod: grace }), scope)
      const started = yield* Deferred.make<void>()
      /** When the handler was interrupted (Date.now()). */
      const interrupted = yield* Deferred.make<number>()
      yield* Effect.forkIn(
        server.run(() =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Deferred.succeed(interrupted, Date.now()))
          )
        ),
        scope
      )
      yield* Effect.scoped(Effect.gen(function*() {
        yield* connectTo(portOf(server))
        yield* Deferred.await(started)
        const releasedAt = Date.now()
        const released = yield* Effect.timeoutOption(Scope.close(scope, Exit.void), "10 seconds")
        assert.isTrue(Option.isSome(released), "the release completed")
        const interruptedAt = yield* Effect.timeoutOption(Deferred.await(interrupted), "1 second")
        assert.isTrue(Option.isSome(interruptedAt), "the handler was interrupted")
        // A lower bound only (a loaded machine makes the interruption later, never earlier), less
        // a margin for timers, which count from the event loop's cached time.
        const waited = Option.getOrElse(interruptedAt, () => 0) - releasedAt
        assert.isAtLeast(waited, grace - 100, "not before the grace period")
      }))
    }))
})
