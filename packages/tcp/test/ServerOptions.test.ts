import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as fc from "fast-check"
import type * as net from "node:net"
import type * as Address from "../src/Address.js"
import { type Connection, Server, Tcp } from "../src/index.js"
import * as metrics from "../src/internal/metrics.js"
import { Admission, type Rejection } from "../src/internal/serverAdmission.js"
import { admissionLimits, descriptorLimit } from "../src/internal/serverConfig.js"
import { eventually } from "./utils/eventually.js"
import { ask, echo, localhost, target } from "./utils/server.js"

// Every option of Server.make with its observable effect, on real sockets (127.0.0.1).

/** Whether the server closed a connection without sending anything (EOF or reset). */
const closedByServer = <A extends Address.Address>(conn: Connection.Connection<A>) =>
  Effect.map(
    Effect.either(conn.reader.readLine),
    (result) => Either.isLeft(result) ? result.left.reason === "Reset" : Option.isNone(result.right)
  )

const dropped = (cause: "drop" | "overflow") =>
  Effect.map(Metric.value(Metric.tagged(metrics.acceptsDropped, "cause", cause)), (state) => Number(state.count))

/** Node's record of the options set on a socket (`kSetNoDelay`, `kSetKeepAlive`, …). */
const nodeState = (socket: net.Socket, name: string): unknown => {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === name)
  return symbol === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[symbol]
}

describe("Server options", () => {
  describe("maxConnections, maxWaiting and backlog", () => {
    it.scopedLive("with maxConnections 2 and 6 clients, at most 2 handlers run and all 6 are served", () =>
      Effect.gen(function*() {
        let running = 0
        let peak = 0
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            running++
            peak = Math.max(peak, running)
            yield* conn.reader.readLine
            yield* Effect.sleep(30)
            yield* conn.writer.writeLine("served")
          }).pipe(Effect.ensuring(Effect.sync(() => running--))), { maxConnections: 2 })
        const samples = { connections: 0, waiting: 0 }
        const sampler = yield* Effect.fork(Effect.forever(Effect.gen(function*() {
          samples.connections = Math.max(samples.connections, yield* server.numConnections)
          samples.waiting = Math.max(samples.waiting, yield* server.numWaiting)
          yield* Effect.sleep(2)
        })))
        const replies = yield* Effect.forEach(
          [0, 1, 2, 3, 4, 5],
          (i) => ask(server.listeningOn, `client ${i}`),
          { concurrency: "unbounded" }
        )
        yield* Fiber.interrupt(sampler)
        assert.deepStrictEqual(replies, Array.from({ length: 6 }, () => Option.some("served")))
        assert.isAtMost(peak, 2)
        assert.isAtMost(samples.connections, 2)
        assert.isAtLeast(samples.waiting, 1)
      }))

    it.scopedLive("held clients are connected but unread, and are served in arrival order", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const order = yield* Ref.make<Array<string>>([])
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const id = Option.getOrElse(yield* conn.reader.readLine, () => "?")
            yield* Ref.update(order, (all) => [...all, id])
            if (id === "0") yield* Deferred.await(gate)
            yield* conn.writer.writeLine(`done ${id}`)
          }), { maxConnections: 1 })
        const clients: Array<Connection.Connection<Address.Inet>> = []
        for (let i = 0; i < 5; i++) {
          const client = yield* Tcp.connect(target(server.listeningOn))
          yield* client.writer.writeLine(String(i))
          clients.push(client)
          if (i === 0) yield* eventually(Ref.get(order), (all) => all.length === 1, "the first handler")
          else yield* eventually(server.numWaiting, (n) => n === i, `client ${i} to be held`)
        }
        assert.strictEqual(yield* server.numConnections, 1)
        const early = yield* Effect.timeoutOption(clients[1]!.reader.readLine, 150)
        assert.isTrue(Option.isNone(early), "a held client gets nothing")

        yield* Deferred.succeed(gate, undefined)
        for (let i = 0; i < 5; i++) {
          assert.deepStrictEqual(yield* clients[i]!.reader.readLine, Option.some(`done ${i}`))
        }
        assert.deepStrictEqual(yield* Ref.get(order), ["0", "1", "2", "3", "4"])
        assert.strictEqual(yield* server.numWaiting, 0)
      }))

    it.scopedLive("beyond maxWaiting held clients, new arrivals are closed at once and counted", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const server = yield* Server.make(
          localhost,
          (conn) => Effect.zipRight(Deferred.await(gate), conn.writer.writeLine("served")),
          { maxConnections: 1, maxWaiting: 2 }
        )
        const overflowBefore = yield* dropped("overflow")
        const served = yield* Tcp.connect(target(server.listeningOn))
        yield* eventually(server.numConnections, (n) => n === 1, "the first handler")
        const held = []
        for (let i = 1; i <= 2; i++) {
          held.push(yield* Tcp.connect(target(server.listeningOn)))
          yield* eventually(server.numWaiting, (n) => n === i, `held client ${i}`)
        }
        for (let i = 0; i < 2; i++) {
          const extra = yield* Tcp.connect(target(server.listeningOn))
          assert.isTrue(yield* closedByServer(extra), "an overflowing client is closed")
        }
        assert.strictEqual((yield* dropped("overflow")) - overflowBefore, 2)
        assert.strictEqual(yield* server.numWaiting, 2)

        yield* Deferred.succeed(gate, undefined)
        for (const client of [served, ...held]) {
          assert.deepStrictEqual(yield* client.reader.readLine, Option.some("served"))
        }
      }))

    it("the descriptor limit lowers maxConnections and maxWaiting, not backlog, to a floor, and says so", () => {
      const limit = descriptorLimit()
      assert.isDefined(limit)
      assert.isAbove(limit!, 0)
      const at1024 = admissionLimits(10_000, 1024, 1024)
      assert.deepStrictEqual([at1024.maxConnections, at1024.maxWaiting, at1024.lowered], [840, 120, true])
      // What fits is left alone; the kernel backlog is no longer subtracted (it holds no descriptor).
      assert.deepStrictEqual(admissionLimits(20, 1024, 1024).maxConnections, 20)
      assert.isFalse(admissionLimits(20, 10, 1024).lowered)
      assert.deepStrictEqual(admissionLimits(10_000, 1024, undefined).maxConnections, 10_000)
      assert.strictEqual(admissionLimits(Infinity, 1024, 20_000).maxConnections, 20_000 - 64 - 1024)
      // A tiny limit keeps a floor of 32 handlers rather than serving one client at a time.
      assert.strictEqual(admissionLimits(10, 1024, 50).maxConnections, 10)
      assert.strictEqual(admissionLimits(10_000, 1024, 50).maxConnections, 32)
    })
  })

  describe("maxAcceptsPerBatch", () => {
    const harness = (config: { maxConnections: number; maxWaiting: number; maxAcceptsPerBatch: number }) => {
      const started: Array<number> = []
      const rejected: Array<[number, Rejection]> = []
      let turns: Array<() => void> = []
      const admission = new Admission<number>({
        ...config,
        drop: false,
        start: (item) => started.push(item),
        reject: (item, why) => rejected.push([item, why]),
        usable: () => true,
        schedule: (f) => turns.push(f)
      })
      const turn = () => {
        const now = turns
        turns = []
        for (const f of now) f()
      }
      return { admission, rejected, started, turn }
    }

    it("starts at most maxAcceptsPerBatch held connections per turn of the event loop", () => {
      for (const batch of [1, 2]) {
        const { admission, started, turn } = harness({ maxConnections: 3, maxWaiting: 10, maxAcceptsPerBatch: batch })
        for (let i = 0; i < 6; i++) admission.offer(i)
        assert.deepStrictEqual(started, [0, 1, 2])
        assert.strictEqual(admission.waiting, 3)
        admission.release()
        admission.release()
        admission.release()
        assert.deepStrictEqual(started, [0, 1, 2], "nothing starts before the next turn")
        const perTurn: Array<number> = []
        for (let t = 0; t < 5 && admission.waiting > 0; t++) {
          const before = started.length
          turn()
          perTurn.push(started.length - before)
        }
        assert.deepStrictEqual(perTurn, batch === 1 ? [1, 1, 1] : [2, 1])
        assert.deepStrictEqual(started, [0, 1, 2, 3, 4, 5])
      }
    })

    it("keeps its invariants under any sequence of arrivals, releases, turns and a close (property)", () => {
      const op = fc.oneof(
        fc.constant("offer" as const),
        fc.constant("release" as const),
        fc.constant("turn" as const),
        fc.constant("drop" as const),
        fc.constant("close" as const)
      )
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 0, max: 4 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(op, { maxLength: 60 }),
          (maxConnections, maxWaiting, maxAcceptsPerBatch, ops) => {
            const { admission, rejected, started, turn } = harness({ maxConnections, maxWaiting, maxAcceptsPerBatch })
            let next = 0
            for (const o of ops) {
              if (o === "offer") admission.offer(next++)
              else if (o === "release" && admission.live > 0) admission.release()
              else if (o === "turn") {
                const before = started.length
                turn()
                if (started.length - before > maxAcceptsPerBatch) return false
              } else if (o === "drop") admission.drop = !admission.drop
              else if (o === "close") admission.close()
              if (admission.live > maxConnections || admission.waiting > maxWaiting) return false
            }
            admission.close()
            turn()
            // Served in arrival order; every arrival was started or rejected exactly once.
            const sortedStarted = [...started].sort((a, b) => a - b)
            if (started.some((item, i) => item !== sortedStarted[i])) return false
            const seen = [...started, ...rejected.map(([item]) => item)].sort((a, b) => a - b)
            return seen.length === next && seen.every((item, i) => item === i)
          }
        ),
        { numRuns: 300 }
      )
    })

    it.scopedLive("with a larger batch every held client is served too", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) => Effect.zipRight(Effect.sleep(20), echo(conn)), {
          maxConnections: 2,
          maxAcceptsPerBatch: 4
        })
        const replies = yield* Effect.forEach(
          [0, 1, 2, 3, 4, 5, 6, 7],
          (i) => ask(server.listeningOn, `c${i}`),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(replies, [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Option.some(`c${i}`)))
      }))
  })

  describe("dropIncomingConnections", () => {
    it.scopedLive("drop mode accepts and closes at once; it can be turned off and on", () =>
      Effect.gen(function*() {
        let handled = 0
        const server = yield* Server.make(localhost, (conn) =>
          Effect.zipRight(Effect.sync(() => handled++), echo(conn)), {
          dropIncomingConnections: true
        })
        const before = yield* dropped("drop")
        const first = yield* Tcp.connect(target(server.listeningOn))
        assert.isTrue(yield* closedByServer(first))
        assert.strictEqual(handled, 0)
        assert.strictEqual((yield* dropped("drop")) - before, 1)

        yield* server.setDropIncomingConnections(false)
        assert.deepStrictEqual(yield* ask(server.listeningOn, "let in"), Option.some("let in"))
        assert.strictEqual(handled, 1)

        yield* server.setDropIncomingConnections(true)
        const third = yield* Tcp.connect(target(server.listeningOn))
        assert.isTrue(yield* closedByServer(third))
        assert.strictEqual(handled, 1)
        assert.strictEqual((yield* dropped("drop")) - before, 2)
      }))
  })

  describe("timeouts", () => {
    it.scopedLive("idleTimeout: activity keeps a connection, silence ends it (handler interrupted, not reported)", () =>
      Effect.gen(function*() {
        const interrupted = yield* Ref.make(false)
        const reported = yield* Ref.make(0)
        const server = yield* Server.make(
          localhost,
          (conn) => Effect.onInterrupt(echo(conn), () => Ref.set(interrupted, true)),
          { idleTimeout: "200 millis", onHandlerError: () => Ref.update(reported, (n) => n + 1) }
        )
        const client = yield* Tcp.connect(target(server.listeningOn))
        for (let i = 0; i < 5; i++) {
          yield* Effect.sleep(80)
          yield* client.writer.writeLine(`ping ${i}`)
          assert.deepStrictEqual(yield* client.reader.readLine, Option.some(`ping ${i}`))
        }
        const start = Date.now()
        assert.deepStrictEqual(yield* client.reader.readLine, Option.none())
        const idle = Date.now() - start
        assert.isAtLeast(idle, 150)
        assert.isBelow(idle, 3000)
        assert.isTrue(yield* Ref.get(interrupted))
        yield* eventually(server.numConnections, (n) => n === 0, "the connection to close")
        assert.strictEqual(yield* Ref.get(reported), 0)
      }))

    it.scopedLive("closeTimeout bounds the final flush to a client that does not read", () =>
      Effect.gen(function*() {
        const big = new Uint8Array(32 * 1024 * 1024)
        const server = yield* Server.make(localhost, (conn) => conn.writer.write(big), {
          writerBufferSize: 64 * 1024 * 1024,
          closeTimeout: "200 millis"
        })
        const slow = yield* Server.make(localhost, (conn) => conn.writer.write(big), {
          writerBufferSize: 64 * 1024 * 1024,
          closeTimeout: "10 seconds"
        })
        const quick = yield* Tcp.connect(target(server.listeningOn))
        const patient = yield* Tcp.connect(target(slow.listeningOn))
        yield* eventually(server.numConnections, (n) => n === 1, "the handler")
        yield* eventually(server.numConnections, (n) => n === 0, "the torn-down connection", 3000)
        assert.strictEqual(yield* slow.numConnections, 1, "still flushing within its 10 s bound")
        yield* patient.socket.reset
        yield* eventually(slow.numConnections, (n) => n === 0, "the reset connection")
        yield* quick.socket.reset
      }))

    it.scopedLive("bufferAgeLimit tears down a connection whose client stopped reading, reported as a handler error", () =>
      Effect.gen(function*() {
        const reasons = yield* Ref.make<Array<string>>([])
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const chunk = new Uint8Array(256 * 1024)
            for (;;) yield* conn.writer.write(chunk)
          }), {
          bufferAgeLimit: "200 millis",
          onHandlerError: (_, cause) =>
            Ref.update(
              reasons,
              (all) => [...all, ...[...Cause.failures(cause)].map((e) => "reason" in e ? e.reason : e._tag)]
            )
        })
        const client = yield* Tcp.connect(target(server.listeningOn))
        yield* eventually(Ref.get(reasons), (all) => all.length > 0, "the age limit", 8000)
        assert.deepStrictEqual(yield* Ref.get(reasons), ["BufferAgeLimitExceeded"])
        yield* client.socket.reset
      }))
  })

  describe("reader and writer options", () => {
    it.scopedLive("readerBufferSize bounds what a connection buffers from a client that sends more", () =>
      Effect.gen(function*() {
        const buffered = (readerBufferSize: number | undefined) =>
          Effect.gen(function*() {
            const result = yield* Deferred.make<number>()
            const server = yield* Server.make(localhost, (conn) =>
              Effect.gen(function*() {
                yield* Effect.sleep(300)
                const chunk = yield* conn.reader.read()
                yield* Deferred.succeed(result, Option.match(chunk, { onNone: () => 0, onSome: (c) => c.length }))
              }), readerBufferSize === undefined ? {} : { readerBufferSize })
            const client = yield* Tcp.connect(target(server.listeningOn))
            yield* client.writer.write(new Uint8Array(1024 * 1024))
            return yield* Deferred.await(result)
          })
        const small = yield* buffered(4096)
        const standard = yield* buffered(undefined)
        // Paused once full: the bound plus at most one chunk (64 KiB) that was already on its way.
        assert.isAtMost(small, 4096 + 64 * 1024)
        assert.isAtLeast(standard, 128 * 1024)
      }))

    it.scopedLive("writerBufferSize bounds the bytes waiting for a client that does not read", () =>
      Effect.gen(function*() {
        const peak = yield* Ref.make(0)
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const chunk = new Uint8Array(16 * 1024)
            for (;;) {
              yield* conn.writer.write(chunk)
              const waiting = yield* conn.writer.bytesToWrite
              yield* Ref.update(peak, (p) => Math.max(p, waiting))
            }
          }), { writerBufferSize: 16 * 1024, bufferAgeLimit: "unlimited" })
        const client = yield* Tcp.connect(target(server.listeningOn))
        yield* eventually(Ref.get(peak), (p) => p > 0, "the kernel's buffers to fill")
        yield* Effect.sleep(200)
        const observed = yield* Ref.get(peak)
        assert.isAtMost(observed, 16 * 1024 + 16 * 1024)
        yield* client.socket.reset
      }))

    it.scopedLive("maxLineLength bounds a connection's lines", () =>
      Effect.gen(function*() {
        const reason = yield* Deferred.make<string>()
        const server = yield* Server.make(localhost, (conn) =>
          conn.reader.readLine.pipe(
            Effect.flatMap((line) => Deferred.succeed(reason, `line ${Option.getOrElse(line, () => "")}`)),
            Effect.catchAll((error) => Deferred.succeed(reason, error.reason))
          ), { maxLineLength: 16 })
        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("x".repeat(40)))
        assert.strictEqual(yield* Deferred.await(reason), "LineTooLong")
      }))
  })

  describe("socket options", () => {
    const acceptedSocket = (options: Pick<Server.ServerOptions, "noDelay" | "keepAlive">) =>
      Effect.gen(function*() {
        const raw = yield* Deferred.make<net.Socket>()
        const server = yield* Server.make(localhost, (conn) =>
          Effect.zipRight(Deferred.succeed(raw, conn.socket.raw), echo(conn)), options)
        yield* Tcp.connect(target(server.listeningOn))
        return yield* Deferred.await(raw)
      })

    it.scopedLive("accepted inet sockets get TCP_NODELAY by default; noDelay: false leaves it off", () =>
      Effect.gen(function*() {
        assert.strictEqual(nodeState(yield* acceptedSocket({}), "kSetNoDelay"), true)
        assert.notStrictEqual(nodeState(yield* acceptedSocket({ noDelay: false }), "kSetNoDelay"), true)
      }))

    it.scopedLive("keepAlive turns TCP keep-alive on, with an initial delay", () =>
      Effect.gen(function*() {
        assert.notStrictEqual(nodeState(yield* acceptedSocket({}), "kSetKeepAlive"), true)
        const on = yield* acceptedSocket({ keepAlive: "2 seconds" })
        assert.strictEqual(nodeState(on, "kSetKeepAlive"), true)
        assert.strictEqual(nodeState(on, "kSetKeepAliveInitialDelay"), 2)
        assert.strictEqual(nodeState(yield* acceptedSocket({ keepAlive: true }), "kSetKeepAlive"), true)
      }))
  })
})
