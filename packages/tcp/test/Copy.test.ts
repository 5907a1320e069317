import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as net from "node:net"
import * as Copy from "../src/Copy.js"
import * as Tcp from "../src/Tcp.js"
import { InvalidArgument } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { accept, rawServer, rawWrite, readToEnd, readToEndWithStatus, ticks } from "./utils/rawServer.js"

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

const end = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    socket.end(() => resume(Effect.void))
  })

/** Two effect-tcp connections `a` and `b`, each to a raw peer (`pa`, `pb`) the test drives. */
const pair = Effect.gen(function*() {
  const server = yield* rawServer()
  const a = yield* Tcp.connect(where(server.port))
  const pa = yield* accept(server)
  const b = yield* Tcp.connect(where(server.port))
  const pb = yield* accept(server)
  return { a, b, pa, pb }
})

const pattern = (n: number, seed: number) => {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

describe("Copy", () => {
  it.live("bidirectional: bytes both ways, a's FIN reaches b's peer while b keeps talking, counts returned", () =>
    Effect.scoped(Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair
      const copying = yield* Effect.fork(Copy.bidirectional(a, b))
      const atB = yield* Effect.fork(readToEndWithStatus(pb))
      const atA = yield* Effect.fork(readToEndWithStatus(pa))
      yield* rawWrite(pa, "from a")
      yield* end(pa)
      // b's peer sees "from a" then the end of stream, and can still answer.
      const gotB = yield* Fiber.join(atB)
      assert.strictEqual(gotB.bytes.toString(), "from a")
      assert.isTrue(gotB.sawEnd)
      yield* rawWrite(pb, "reply from b")
      yield* end(pb)
      const gotA = yield* Fiber.join(atA)
      assert.strictEqual(gotA.bytes.toString(), "reply from b")
      assert.isTrue(gotA.sawEnd)
      assert.deepStrictEqual(yield* Fiber.join(copying), { aToB: 6, bToA: 12 })
    })))

  it.live("bidirectional: b ends first; a keeps sending, 4 MiB each way with back-pressure, byte for byte", () =>
    Effect.scoped(Effect.gen(function*() {
      const baseline = fdCount()
      yield* Effect.scoped(Effect.gen(function*() {
        const { a, b, pa, pb } = yield* pair
        const copying = yield* Effect.fork(Copy.bidirectional(a, b))
        const atA = yield* Effect.fork(readToEnd(pa))
        const atB = yield* Effect.fork(readToEnd(pb))
        const fromB = pattern(4 * 1024 * 1024, 7)
        const fromA = pattern(4 * 1024 * 1024 + 3, 11)
        yield* rawWrite(pb, fromB)
        yield* end(pb)
        assert.isTrue((yield* Fiber.join(atA)).equals(fromB))
        yield* rawWrite(pa, fromA)
        yield* end(pa)
        assert.isTrue((yield* Fiber.join(atB)).equals(fromA))
        assert.deepStrictEqual(yield* Fiber.join(copying), { aToB: fromA.length, bToA: fromB.length })
      }))
      yield* expectFdsBackTo(baseline)
    })))

  it.live("a reset on one side fails the copy with Reset and stops the other direction", () =>
    Effect.scoped(Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair
      const copying = yield* Effect.fork(Copy.bidirectional(a, b))
      const atB = yield* Effect.fork(readToEndWithStatus(pb))
      yield* rawWrite(pa, "partial")
      yield* ticks(5)
      pa.resetAndDestroy()
      const exit = yield* Fiber.await(copying)
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<unknown, any>).cause))
      assert.strictEqual(error._tag, "ReadError")
      assert.strictEqual(error.reason, "Reset")
      // b's writer was not closed by the copy: its peer has seen the bytes but no end yet.
      yield* ticks(5)
      pb.destroy()
      const gotB = yield* Fiber.join(atB)
      assert.strictEqual(gotB.bytes.toString(), "partial")
      assert.isFalse(gotB.sawEnd)
    })))

  it.live("interrupting the copy stops both directions; the connections close with their scope, no descriptor left", () =>
    Effect.gen(function*() {
      const baseline = fdCount()
      yield* Effect.scoped(Effect.gen(function*() {
        const { a, b, pa } = yield* pair
        const copying = yield* Effect.fork(Copy.bidirectional(a, b))
        yield* rawWrite(pa, "x")
        yield* ticks(3)
        yield* Fiber.interrupt(copying)
        assert.isTrue(Exit.isInterrupted(yield* Fiber.await(copying)))
      }))
      yield* expectFdsBackTo(baseline)
    }))

  it.live("copy: one direction until the end of stream, the writer left open", () =>
    Effect.scoped(Effect.gen(function*() {
      const { a, b, pa, pb } = yield* pair
      const atB = yield* Effect.fork(readToEnd(pb))
      yield* rawWrite(pa, "one way")
      yield* end(pa)
      assert.strictEqual(yield* Copy.copy(a.reader, b.writer), 7)
      yield* b.writer.write(" and more")
      yield* b.writer.close
      assert.strictEqual((yield* Fiber.join(atB)).toString(), "one way and more")
    })))

  it.live("bad arguments are InvalidArgument", () =>
    Effect.scoped(Effect.gen(function*() {
      const { a } = yield* pair
      assert.instanceOf(yield* Effect.flip(Copy.bidirectional(a, a)), InvalidArgument)
      assert.instanceOf(yield* Effect.flip(Copy.bidirectional(a, {} as any)), InvalidArgument)
      assert.instanceOf(yield* Effect.flip(Copy.copy(a.reader, a.reader as any)), InvalidArgument)
    })))
})
