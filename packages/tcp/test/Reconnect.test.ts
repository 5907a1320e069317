import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as net from "node:net"
import * as path from "node:path"
import { Metrics, Reconnect, Resolver, WhereToConnect } from "../src/index.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { freePort, rawServer, readToEnd } from "./utils/rawServer.js"
import { tempDir } from "./utils/tempDir.js"
import { recordingTracer } from "./utils/tracer.js"

const retries = Metric.value(Metrics.connectRetries).pipe(Effect.map((s) => s.count))
const reconnectsCount = Metric.value(Metrics.reconnects).pipe(Effect.map((s) => s.count))

const fast = Schedule.spaced("20 millis")

describe("Reconnect.connectWithRetry", () => {
  it.scopedLive("waits for a server that starts late, with a span event and a metric per retry", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "late.sock")
      const before = yield* retries
      const { spans, tracer } = recordingTracer()
      const server = yield* Effect.fork(Effect.zipRight(Effect.sleep("300 millis"), rawServer({ path: file })))
      const conn = yield* Reconnect.connectWithRetry(
        WhereToConnect.file(file),
        Schedule.intersect(fast, Schedule.recurs(200))
      ).pipe(
        Effect.withTracer(tracer)
      )
      assert.strictEqual(conn.socket.remoteAddress.path, file)
      const raw = yield* Fiber.join(server)
      yield* Queue.take(raw.accepted)

      const span = spans.find((s) => s.name === "effect-tcp.connectWithRetry")
      assert.isDefined(span)
      const failed = span!.events.filter((e) => e.name === "effect-tcp.connect.failed")
      const succeeded = span!.events.filter((e) => e.name === "effect-tcp.connect.succeeded")
      assert.isAbove(failed.length, 0)
      assert.strictEqual(succeeded.length, 1)
      assert.strictEqual(failed[0]!.attributes["effect-tcp.reason"], "Refused")
      assert.strictEqual(failed[0]!.attributes["effect-tcp.retry"], true)
      assert.strictEqual(succeeded[0]!.attributes["effect-tcp.attempt"], failed.length + 1)
      assert.strictEqual(span!.attributes.get("effect-tcp.attempts"), failed.length + 1)
      assert.strictEqual(span!.attributes.get("effect-tcp.target"), file)
      assert.isTrue(span!.exit !== undefined && Exit.isSuccess(span!.exit))
      // Every attempt is a child connect span.
      const connects = spans.filter((s) =>
        s.name === "effect-tcp.connect" && Option.isSome(s.parent) && s.parent.value === span
      )
      assert.strictEqual(connects.length, failed.length + 1)
      assert.strictEqual((yield* retries) - before, failed.length)
    }))

  it.scopedLive("gives up with the last error when the schedule is done", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const before = yield* retries
      let consulted = 0
      const schedule = Schedule.intersect(fast, Schedule.recurs(3)).pipe(Schedule.tapInput(() =>
        Effect.sync(() => {
          consulted++
        })
      ))
      const error = yield* Effect.flip(
        Reconnect.connectWithRetry(WhereToConnect.hostAndPort("127.0.0.1", port), schedule)
      )
      assert.strictEqual(error._tag, "ConnectError")
      if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Refused")
      assert.strictEqual(consulted, 4)
      assert.strictEqual((yield* retries) - before, 3)
    }))

  it.scopedLive("stops at once on InvalidArgument", () =>
    Effect.gen(function*() {
      let consulted = 0
      const schedule = Schedule.forever.pipe(Schedule.tapInput(() =>
        Effect.sync(() => {
          consulted++
        })
      ))
      const error = yield* Effect.flip(
        Reconnect.connectWithRetry(WhereToConnect.hostAndPort("127.0.0.1", 70000), schedule)
      )
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.strictEqual(consulted, 0)
    }))

  it.scopedLive("stops at once on a failure that is not transient", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      let consulted = 0
      const schedule = Schedule.forever.pipe(Schedule.tapInput(() =>
        Effect.sync(() => {
          consulted++
        })
      ))
      // PermissionDenied cannot be provoked reliably as root: make Refused fatal instead.
      const error = yield* Effect.flip(
        Reconnect.connectWithRetry(WhereToConnect.hostAndPort("127.0.0.1", port), schedule, {
          isTransient: (e) => e.reason !== "Refused"
        })
      )
      assert.strictEqual(error._tag === "ConnectError" && error.reason, "Refused")
      assert.strictEqual(consulted, 0)
    }))

  it("classifies reasons: transient or fatal", () => {
    const make = (reason: string) => ({ reason }) as never
    assert.isTrue(Reconnect.isTransient(make("Refused")))
    assert.isTrue(Reconnect.isTransient(make("Timeout")))
    assert.isTrue(Reconnect.isTransient(make("Unreachable")))
    assert.isFalse(Reconnect.isTransient(make("HostNotFound")))
    assert.isTrue(Reconnect.isTransient(make("HostNotFound"), { retryHostNotFound: true }))
    assert.isFalse(Reconnect.isTransient(make("PermissionDenied")))
    assert.isFalse(Reconnect.isTransient(make("AddressInUse")))
    assert.isFalse(Reconnect.isTransient(make("Interrupted")))
    assert.isFalse(Reconnect.isTransient(make("Unknown")))
  })

  it.scopedLive("retries HostNotFound only when asked to", () =>
    Effect.gen(function*() {
      let consulted = 0
      const schedule = Schedule.intersect(fast, Schedule.recurs(2)).pipe(Schedule.tapInput(() =>
        Effect.sync(() => {
          consulted++
        })
      ))
      const where = WhereToConnect.hostAndPort("nowhere.invalid", 80)
      const once = yield* Effect.flip(Reconnect.connectWithRetry(where, schedule))
      assert.strictEqual(once._tag === "ConnectError" && once.reason, "HostNotFound")
      assert.strictEqual(consulted, 0)
      const retried = yield* Effect.flip(Reconnect.connectWithRetry(where, schedule, { retryHostNotFound: true }))
      assert.strictEqual(retried._tag === "ConnectError" && retried.reason, "HostNotFound")
      assert.strictEqual(consulted, 3)
    }).pipe(Effect.provide(Resolver.layerStatic({}))))

  it.live("interruption stops it cleanly, leaving no socket open", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const baseline = fdCount()
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Reconnect.connectWithRetry(WhereToConnect.hostAndPort("127.0.0.1", port), Schedule.spaced("10 millis"))
        )
      )
      yield* Effect.sleep("200 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* expectFdsBackTo(baseline)
    }))
})

/** A Unix-socket server the tests can stop and start again on the same path. */
const restartable = (file: string) =>
  Effect.gen(function*() {
    let scope = yield* Scope.make()
    let accepted: Queue.Queue<net.Socket> | undefined
    const start = Effect.gen(function*() {
      scope = yield* Scope.make()
      const server = yield* Scope.extend(rawServer({ path: file }), scope)
      accepted = server.accepted
    })
    const stop = Effect.suspend(() => Scope.close(scope, Exit.void))
    yield* start
    yield* Effect.addFinalizer(() => stop)
    return { start, stop, next: Effect.suspend(() => Queue.take(accepted!)) }
  })

describe("Reconnect.layer", () => {
  it.scopedLive("re-dials when the connection drops and tells the caller", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "r.sock")
      const server = yield* restartable(file)
      const before = yield* reconnectsCount
      const link = yield* Layer.build(Reconnect.layer(WhereToConnect.file(file), fast)).pipe(
        Effect.map(Context.get(Reconnect.Reconnecting))
      )
      const generations = yield* Effect.fork(Stream.runCollect(Stream.take(link.changes, 2)))
      const first = yield* link.connection
      assert.strictEqual(yield* link.generation, 1)
      const peer1 = yield* server.next
      peer1.end("last words\n")
      const peer2 = yield* server.next
      const seen = Chunk.toArray(yield* Fiber.join(generations))
      assert.deepStrictEqual(seen.map((g) => g.generation), [1, 2])
      assert.strictEqual(seen[0]!.connection, first)
      const second = yield* link.connection
      assert.strictEqual(second, seen[1]!.connection)
      assert.notStrictEqual(second, first)
      assert.strictEqual(yield* link.generation, 2)
      assert.strictEqual((yield* reconnectsCount) - before, 1)
      // The new connection works.
      yield* second.writer.writeLine("hello again")
      yield* second.writer.close
      assert.strictEqual(String(yield* readToEnd(peer2)), "hello again\n")
    }))

  it.scopedLive("reconnect drops the current connection and dials a new one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "r.sock")
      const server = yield* restartable(file)
      const link = yield* Reconnect.make(WhereToConnect.file(file), fast)
      const first = yield* link.connection
      const peer1 = yield* server.next
      const closed = yield* Effect.fork(readToEnd(peer1))
      yield* link.reconnect
      const state = yield* link.state
      assert.strictEqual(state._tag, "Connecting")
      const second = yield* link.connection
      assert.notStrictEqual(second, first)
      yield* server.next
      yield* Fiber.join(closed)
      assert.isTrue(yield* first.writer.isClosed)
      assert.strictEqual(yield* link.generation, 2)
    }))

  it.scopedLive("gives up when the schedule is done, and dials again on reconnect", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "r.sock")
      const server = yield* restartable(file)
      const link = yield* Reconnect.make(WhereToConnect.file(file), Schedule.intersect(fast, Schedule.recurs(2)))
      yield* link.connection
      yield* server.next
      yield* server.stop
      const failed = yield* Stream.runHead(Stream.filter(link.stateChanges, (s) => s._tag === "Failed"))
      assert.isTrue(Option.isSome(failed))
      const error = yield* Effect.flip(link.connection)
      assert.strictEqual(error._tag, "ConnectError")
      yield* server.start
      yield* link.reconnect
      const conn = yield* link.connection
      assert.strictEqual(conn.socket.remoteAddress.path, file)
      assert.strictEqual(yield* link.generation, 2)
    }))

  it.scopedLive("fails to build when the first connection cannot be made", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(
        Layer.build(Reconnect.layer(WhereToConnect.file(path.join(dir, "none.sock")), Schedule.recurs(2)))
      )
      assert.strictEqual(error._tag, "ConnectError")
    }))

  it.live("releasing the layer closes the connection and stops re-dialing", () =>
    Effect.gen(function*() {
      const baseline = fdCount()
      const outer = yield* Scope.make()
      const dir = yield* Scope.extend(tempDir, outer)
      const file = path.join(dir, "r.sock")
      const server = yield* Scope.extend(restartable(file), outer)
      const scope = yield* Scope.make()
      const context = yield* Scope.extend(Layer.build(Reconnect.layer(WhereToConnect.file(file), fast)), scope)
      const link = Context.get(context, Reconnect.Reconnecting)
      yield* link.connection
      const peer = yield* server.next
      const ended = yield* Effect.fork(readToEnd(peer))
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(ended)
      // The streams end once the service is released.
      yield* Stream.runDrain(link.changes).pipe(Effect.timeout("5 seconds"))
      yield* Stream.runDrain(link.stateChanges).pipe(Effect.timeout("5 seconds"))
      yield* Scope.close(outer, Exit.void)
      yield* expectFdsBackTo(baseline)
    }))
})
