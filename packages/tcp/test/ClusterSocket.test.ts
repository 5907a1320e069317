import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import * as ClusterSocket from "../src/ClusterSocket.js"
import { BindToAddress, BindToPort, Tcp, TcpError, WhereToConnect, WhereToListen } from "../src/index.js"
import * as PlatformSocket from "../src/PlatformSocket.js"
import { fdCount as fds } from "./utils/fds.js"
import { postgres } from "./utils/postgres.js"
import { bundle, fixture, isAlive, type Report } from "./utils/processes.js"
import { freePort } from "./utils/rawServer.js"

describe("ClusterSocket", () => {
  it.scopedLive("a lazy socket dials on the first run: a refused dial fails that run with SocketError \"Open\", not a defect", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const before = fds()
      const socket = yield* PlatformSocket.makeLazy(WhereToConnect.hostAndPort("127.0.0.1", port), {
        timeout: "1 second"
      })
      // Nothing dialed yet: no descriptor opened.
      assert.strictEqual(fds(), before)
      const failed = yield* Effect.either(socket.run(() => {}))
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) {
        assert.isTrue(Socket.isSocketError(failed.left))
        assert.strictEqual((failed.left as Socket.SocketGenericError).reason, "Open")
        const cause = (failed.left as Socket.SocketGenericError).cause
        assert.instanceOf(cause, TcpError.ConnectError)
        assert.strictEqual((cause as TcpError.ConnectError).reason, "Refused")
      }
      // Once something listens there, the next run connects.
      const server = net.createServer((s) => {
        s.end("up\n")
      }).listen(port, "127.0.0.1")
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          server.close()
        })
      )
      yield* Effect.async<void>((resume) => {
        server.once("listening", () => resume(Effect.void))
      })
      const received: Array<string> = []
      yield* socket.run((bytes) => void received.push(new TextDecoder().decode(bytes)))
      assert.strictEqual(received.join(""), "up\n")
    }))

  it.effect("a lazy socket checks its arguments when made", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(PlatformSocket.makeLazy(WhereToConnect.hostAndPort("", 1))))
      assert.isTrue(Exit.isFailure(exit) && String(exit.cause).includes("InvalidArgument"))
      const bad = yield* Effect.exit(
        Effect.scoped(PlatformSocket.makeLazy(WhereToConnect.hostAndPort("127.0.0.1", 1), { timeout: -1 as never }))
      )
      assert.isTrue(Exit.isFailure(bad) && String(bad.cause).includes("InvalidArgument"))
    }))

  it.scopedLive("the runner's server releases in well under a second while a peer keeps its connection open", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        ClusterSocket.layerSocketServer({
          where: WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)
        }).pipe(
          Layer.provide(ShardingConfig.layer())
        ),
        scope
      )
      const server = context.unsafeMap.get(SocketServer.SocketServer.key) as SocketServer.SocketServer["Type"]
      const address = server.address as SocketServer.TcpAddress
      // A handler that, like the RPC server's, never ends by itself.
      const run = yield* Effect.forkDaemon(server.run((socket) => socket.run(() => {})))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", address.port))
        yield* Effect.sleep("50 millis")
        const start = Date.now()
        // As when a runner stops: the RPC server's run is interrupted, then the server released.
        yield* Fiber.interrupt(run)
        yield* Scope.close(scope, Exit.void)
        const elapsed = Date.now() - start
        assert.isBelow(elapsed, 2_000, `released in ${elapsed} ms`)
      }))
    }))

  it.scopedLive(
    "three runner processes over effect-tcp with a PostgreSQL runner storage: routing, SIGKILL, reassignment, delivery",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres
        const script = yield* bundle("clusterRunner")
        const ports = [yield* freePort(), yield* freePort(), yield* freePort()]
        // One runner at a time: started together, a runner failed now and then with "SqlError: Failed
        // to execute statement" before it was ready (seen twice in about eight runs; most likely
        // the runners creating the storage's tables at once).
        const started = yield* Effect.forEach(ports, (port) =>
          Effect.flatMap(
            fixture(script, [JSON.stringify({ port, pg })]),
            (runner) => Effect.map(runner.next("ready", 60_000), (ready) => [runner, ready.pid as number] as const)
          ))
        const runners = started.map(([runner]) => runner)
        const pids = started.map(([, pid]) => pid)
        const [first, second, third] = runners as [typeof runners[0], typeof runners[0], typeof runners[0]]
        const byPid = new Map(pids.map((pid, i) => [pid, i]))
        const send = (from: typeof first, id: string, n: number) =>
          Effect.zipRight(from.command(JSON.stringify({ visit: id, n })), Effect.void)
        const replies = (from: typeof first, count: number, timeoutMs: number) =>
          Effect.forEach(Array.from({ length: count }), () => from.next("reply", timeoutMs))

        // Messages from the first runner reach entities on all three (shard assignments settle first).
        const ids = Array.from({ length: 24 }, (_, i) => `counter-${i}`)
        let owners = new Map<string, number>()
        for (let round = 0; round < 20; round++) {
          yield* Effect.forEach(ids, (id, i) => send(first, id, round * 100 + i))
          const got: ReadonlyArray<Report> = yield* replies(first, ids.length, 30_000)
          owners = new Map(got.map((r) => [r.id as string, r.pid as number]))
          if (new Set(owners.values()).size === 3) break
          yield* Effect.sleep("500 millis")
        }
        assert.deepStrictEqual(new Set(owners.values()), new Set(pids), "every runner serves some entities")

        // SIGKILL the third runner; a message to one of its entities is retried until a survivor owns the shard.
        const victimPid = pids[2]!
        const orphan = [...owners].find(([, pid]) => pid === victimPid)![0]
        process.kill(victimPid, "SIGKILL")
        yield* third.exited
        yield* send(first, orphan, 4242)
        const delivered = yield* first.next("reply", 60_000)
        assert.strictEqual(delivered.id, orphan)
        assert.strictEqual(delivered.n, 4242)
        assert.notStrictEqual(delivered.pid, victimPid)
        assert.isTrue(byPid.has(delivered.pid as number))
        // The second runner reaches it too, and every entity is served by a survivor.
        yield* Effect.forEach(ids, (id, i) => send(second, id, 9000 + i))
        const after = yield* replies(second, ids.length, 60_000)
        assert.isTrue(after.every((r) => r.pid !== victimPid))

        // No connection to the dead runner is left in the survivors.
        for (const survivor of [first, second]) {
          let left = -1
          for (let i = 0; i < 100 && left !== 0; i++) {
            yield* survivor.command(JSON.stringify({ conns: ports[2] }))
            left = (yield* survivor.next("conns")).count as number
            if (left !== 0) yield* Effect.sleep("100 millis")
          }
          assert.strictEqual(left, 0, "sockets to the dead runner")
        }

        // Releasing the survivors: quick (the transport's short grace period), every descriptor back.
        for (const survivor of [first, second]) {
          yield* survivor.command(JSON.stringify({ release: true }))
        }
        for (const survivor of [first, second]) {
          const released = yield* survivor.next("released", 30_000)
          assert.strictEqual(
            released.fdsAfter,
            released.fdsBefore,
            `descriptors after release: ${JSON.stringify(released)}`
          )
          assert.isBelow(released.releaseMs as number, 5_000)
          assert.strictEqual((yield* survivor.exited).code, 0)
        }
        assert.isFalse(isAlive(victimPid))
      }),
    120_000
  )
})
