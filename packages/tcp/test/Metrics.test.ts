/**
 * The metrics and spans of effect-tcp, read back after real connections. Metrics are global:
 * every check is a difference between a reading before and after (tests of one file run one
 * after the other).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import {
  BindToAddress,
  BindToPort,
  Metrics,
  Resolver,
  Server,
  Tcp,
  WhereToConnect,
  WhereToListen
} from "../src/index.js"
import { eventually } from "./utils/eventually.js"
import { freePort, rawServer, rawWrite, readToEnd } from "./utils/rawServer.js"
import { recordingTracer } from "./utils/tracer.js"

const local = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)

const count = (metric: Metric.Metric.Counter<number>, tag: string, value: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, tag, value)), (state) => state.count)

const countUntagged = (metric: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(metric), (state) => state.count)

const gauge = (metric: Metric.Metric.Gauge<number>, tag: string, value: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, tag, value)), (state) => state.value)

/** Every metric of one side. */
const sideReading = (side: Metrics.Side) =>
  Effect.all({
    opened: count(Metrics.connectionsOpened, Metrics.sideTag, side),
    closed: count(Metrics.connectionsClosed, Metrics.sideTag, side),
    open: gauge(Metrics.connectionsOpen, Metrics.sideTag, side),
    read: count(Metrics.bytesRead, Metrics.sideTag, side),
    written: count(Metrics.bytesWritten, Metrics.sideTag, side)
  })

const delta = <A extends Record<string, number>>(before: A, after: A): A =>
  Object.fromEntries(Object.keys(before).map((k) => [k, after[k]! - before[k]!])) as A

describe("Metrics", () => {
  it.live("client connections: opened, open, closed, bytes counted when the connection closes", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const server = yield* Scope.extend(rawServer(), outer)
      const before = yield* sideReading("client")
      const scope = yield* Scope.make()
      const conn = yield* Scope.extend(Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port)), scope)
      const peer = yield* Queue.take(server.accepted)
      const received = yield* Effect.fork(readToEnd(peer))
      yield* conn.writer.write("12345")
      yield* conn.writer.flushed
      yield* rawWrite(peer, "abc")
      yield* conn.reader.readExactly(3)
      const during = delta(before, yield* sideReading("client"))
      assert.deepStrictEqual(during, { opened: 1, closed: 0, open: 1, read: 0, written: 0 })
      yield* Scope.close(scope, Exit.void)
      const after = delta(before, yield* sideReading("client"))
      assert.deepStrictEqual(after, { opened: 1, closed: 1, open: 0, read: 3, written: 5 })
      yield* Fiber.join(received)
      yield* Scope.close(outer, Exit.void)
    }))

  it.live("server connections: the same metrics, tagged side=server", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const before = yield* sideReading("server")
      const handlerDone = yield* Deferred.make<void>()
      const server = yield* Scope.extend(
        Server.make(local, (conn) =>
          Effect.gen(function*() {
            const line = yield* conn.reader.readLine
            yield* conn.writer.writeLine(`got ${Option.getOrElse(line, () => "")}`)
          }).pipe(Effect.ensuring(Deferred.succeed(handlerDone, undefined)))),
        outer
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn))
        yield* conn.writer.writeLine("hi")
        assert.strictEqual(Option.getOrNull(yield* conn.reader.readLine), "got hi")
      }))
      yield* Deferred.await(handlerDone)
      const after = yield* eventually(sideReading("server"), (r) => r.closed - before.closed === 1)
      assert.deepStrictEqual(delta(before, after), { opened: 1, closed: 1, open: 0, read: 3, written: 7 })
      yield* Scope.close(outer, Exit.void)
    }))

  it.scopedLive("connect failures, by reason", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const refused = yield* count(Metrics.connectFailures, Metrics.reasonTag, "Refused")
      const notFound = yield* count(Metrics.connectFailures, Metrics.reasonTag, "HostNotFound")
      yield* Effect.flip(Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", port)))
      yield* Effect.flip(Tcp.connect(WhereToConnect.hostAndPort("nowhere.invalid", port))).pipe(
        Effect.provide(Resolver.layerStatic({}))
      )
      assert.strictEqual((yield* count(Metrics.connectFailures, Metrics.reasonTag, "Refused")) - refused, 1)
      assert.strictEqual((yield* count(Metrics.connectFailures, Metrics.reasonTag, "HostNotFound")) - notFound, 1)
    }))

  it.scopedLive("accepts dropped: in drop mode and beyond maxWaiting", () =>
    Effect.gen(function*() {
      const drop = yield* count(Metrics.acceptsDropped, Metrics.causeTag, "drop")
      const overflow = yield* count(Metrics.acceptsDropped, Metrics.causeTag, "overflow")
      const server = yield* Server.make(local, () => Effect.never, { maxConnections: 1, maxWaiting: 1 })
      const where = WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn)
      yield* Tcp.connect(where)
      yield* eventually(server.numConnections, (n) => n === 1)
      yield* Tcp.connect(where)
      yield* eventually(server.numWaiting, (n) => n === 1)
      const third = yield* Tcp.connect(where)
      assert.isTrue(Option.isNone(yield* Effect.orElseSucceed(third.reader.read(), () => Option.none())))
      yield* eventually(count(Metrics.acceptsDropped, Metrics.causeTag, "overflow"), (n) => n - overflow === 1)
      yield* server.setDropIncomingConnections(true)
      const dropped = yield* Tcp.connect(where)
      assert.isTrue(Option.isNone(yield* Effect.orElseSucceed(dropped.reader.read(), () => Option.none())))
      yield* eventually(count(Metrics.acceptsDropped, Metrics.causeTag, "drop"), (n) => n - drop === 1)
      yield* server.close({ closeExistingConnections: true })
    }))

  it.scopedLive("buffer age limit trips", () =>
    Effect.gen(function*() {
      const before = yield* countUntagged(Metrics.bufferAgeLimitTrips)
      const server = yield* rawServer({ pauseOnConnect: true })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
        bufferAgeLimit: "200 millis",
        writerBufferSize: 64 * 1024 * 1024
      })
      const chunk = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < 32; i++) yield* conn.writer.write(chunk)
      const error = yield* Effect.flip(conn.writer.flushed)
      assert.strictEqual(error.reason, "BufferAgeLimitExceeded")
      assert.strictEqual((yield* countUntagged(Metrics.bufferAgeLimitTrips)) - before, 1)
    }))
})

describe("spans", () => {
  it.scopedLive("effect-tcp.connect around a connect, with its target and addresses", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port)).pipe(
        Effect.withTracer(tracer)
      )
      const span = spans.find((s) => s.name === "effect-tcp.connect")
      assert.isDefined(span)
      assert.strictEqual(span!.kind, "client")
      assert.strictEqual(span!.attributes.get("effect-tcp.target"), `127.0.0.1:${server.port}`)
      assert.strictEqual(span!.attributes.get("effect-tcp.remote"), `127.0.0.1:${server.port}`)
      assert.strictEqual(span!.attributes.get("effect-tcp.local"), `127.0.0.1:${conn.socket.localAddress.port}`)
      assert.isTrue(span!.exit !== undefined && Exit.isSuccess(span!.exit))
    }))

  it.scopedLive("effect-tcp.connect records the failure", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const port = yield* freePort()
      yield* Effect.flip(Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", port))).pipe(Effect.withTracer(tracer))
      const span = spans.find((s) => s.name === "effect-tcp.connect")
      assert.isDefined(span)
      assert.isTrue(span!.exit !== undefined && Exit.isFailure(span!.exit))
    }))

  it.scopedLive("effect-tcp.server.listen and one effect-tcp.server.connection per connection", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const done = yield* Queue.unbounded<void>()
      const server = yield* Server.make(
        local,
        (conn) => Effect.zipRight(conn.writer.writeLine("hello"), Queue.offer(done, undefined))
      ).pipe(
        Effect.withTracer(tracer)
      )
      const listen = spans.find((s) => s.name === "effect-tcp.server.listen")
      assert.isDefined(listen)
      for (let i = 0; i < 2; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn))
          yield* conn.reader.readLine
        }))
        yield* Queue.take(done)
      }
      const connections = yield* eventually(
        Effect.sync(() => spans.filter((s) => s.name === "effect-tcp.server.connection" && s.exit !== undefined)),
        (found) => found.length === 2
      )
      assert.strictEqual(connections[0]!.kind, "server")
    }))
})
