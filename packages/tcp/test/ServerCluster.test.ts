import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as cp from "node:child_process"
import * as path from "node:path"
import { ServerCluster, WhereToListen } from "../src/index.js"
import { eventually } from "./utils/eventually.js"
import { askOnce, bundle, fileExists, fixture, hold, isAlive, refused } from "./utils/processes.js"
import { tempDir } from "./utils/tempDir.js"

const pidOf = (reply: string) => Number(reply.split(" ")[0])

/** Starts the fixture's primary; returns it with the group's address and worker pids. */
const start = (args: Record<string, unknown>) =>
  Effect.gen(function*() {
    const primary = yield* fixture(yield* bundle("serverCluster"), [JSON.stringify(args)])
    const listening = yield* primary.next("listening", 60_000)
    const pids = (listening.workers as Array<{ pid: number }>).map((w) => w.pid)
    for (const pid of pids) primary.adopt(pid)
    return {
      primary,
      listeningOn: listening.listeningOn as number | string,
      pids,
      fdsBefore: listening.fdsBefore as number
    }
  })

describe("ServerCluster", () => {
  it.scopedLive(
    "serves one port from every worker, sums their counts, replaces a killed worker, releases everything",
    () =>
      Effect.gen(function*() {
        const { listeningOn, pids, primary } = yield* start({ where: { port: 0 }, workers: 2 })
        assert.strictEqual(pids.length, 2)
        // Round-robin: consecutive connections go to different workers.
        const replies = yield* Effect.forEach([1, 2, 3, 4], (i) => askOnce(listeningOn, `hello ${i}`))
        assert.deepStrictEqual(new Set(replies.map(pidOf)), new Set(pids))
        assert.isTrue(replies.every((r, i) => r.endsWith(`hello ${i + 1}`)))

        // Four held connections, two per worker: counted per worker and summed.
        const held = yield* Effect.forEach([1, 2, 3, 4], () => hold(listeningOn))
        const heldPids = yield* Effect.forEach(held, (h) => Effect.map(h.ask("who"), pidOf))
        yield* primary.command("stats")
        const stats = yield* primary.next("stats")
        assert.strictEqual(stats.total.numConnections, 4)
        assert.strictEqual(stats.workers.length, 2)
        for (const w of stats.workers as Array<{ pid: number; counts: ServerCluster.Counts }>) {
          assert.strictEqual(w.counts.numConnections, heldPids.filter((p) => p === w.pid).length)
        }
        assert.strictEqual(stats.total.connectionsOpened, 8)
        assert.strictEqual(stats.total.connectionsClosed, 4)
        assert.isAbove(stats.total.bytesRead, 0)

        // SIGKILL one worker: its connections end, a successor takes its slot, the port keeps serving.
        const victim = pids[0]!
        process.kill(victim, "SIGKILL")
        yield* Effect.forEach(held.filter((_, i) => heldPids[i] === victim), (h) => h.closed)
        let successor = 0
        yield* eventually(
          Effect.gen(function*() {
            yield* primary.command("workers")
            const workers = (yield* primary.next("workers")).workers as Array<{ pid: number; restarts: number }>
            const fresh = workers.find((w) => !pids.includes(w.pid))
            if (fresh === undefined || workers.length !== 2) return false
            assert.strictEqual(fresh.restarts, 1)
            successor = fresh.pid
            primary.adopt(fresh.pid)
            return true
          }),
          (ok) => ok,
          "a successor worker",
          60_000
        )
        const after = yield* Effect.forEach([1, 2, 3, 4], (i) => askOnce(listeningOn, `again ${i}`))
        assert.deepStrictEqual(new Set(after.map(pidOf)), new Set([pids[1], successor]))
        const survivor = held.find((_, i) => heldPids[i] !== victim)!
        assert.strictEqual(pidOf(yield* survivor.ask("still there")), pids[1])

        // Releasing the group: workers end, the port is closed, the primary's descriptors are back.
        yield* Effect.forEach(held, (h) => h.close)
        yield* primary.command("release")
        const released = yield* primary.next("released", 30_000)
        assert.strictEqual(released.fdsAfter, released.fdsBefore)
        assert.deepStrictEqual(yield* primary.exited, { code: 0, signal: null })
        assert.isFalse(isAlive(pids[1]!))
        assert.isFalse(isAlive(successor))
        assert.isTrue(yield* refused(listeningOn))
      }),
    120_000
  )

  it.scopedLive(
    "SIGTERM to the primary: stop accepting everywhere, let open connections finish, then exit",
    () =>
      Effect.gen(function*() {
        const { listeningOn, pids, primary } = yield* start({ where: { port: 0 }, workers: 2, grace: 20_000 })
        const open = yield* hold(listeningOn)
        const servedBy = pidOf(yield* open.ask("before"))
        process.kill(primary.pid, "SIGTERM")
        yield* eventually(refused(listeningOn), (ok) => ok, "the port to refuse connections", 10_000)
        // Within the grace period the open connection is still served ...
        assert.strictEqual(pidOf(yield* open.ask("during")), servedBy)
        // ... and once it ends the group ends without waiting for the rest of the grace period.
        yield* open.close
        const exit = yield* primary.exited.pipe(Effect.timeout("15 seconds"))
        assert.deepStrictEqual(exit, { code: null, signal: "SIGTERM" })
        for (const pid of pids) assert.isFalse(isAlive(pid))
      }),
    120_000
  )

  it.scopedLive(
    "a Unix-socket group: replaces a stale socket file, shares the path, bounds the restart rate, removes the file",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const socketPath = path.join(dir, "group.sock")
        // A stale socket file: bound by a process that is gone.
        cp.execFileSync("python3", [
          "-c",
          `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(socketPath)})`
        ])
        assert.isTrue(fileExists(socketPath))
        const { listeningOn, pids, primary } = yield* start({
          where: { path: socketPath },
          workers: 2,
          restartLimit: 1,
          restartWindow: 600_000
        })
        assert.strictEqual(listeningOn, socketPath)
        const replies = yield* Effect.forEach([1, 2, 3, 4], (i) => askOnce(socketPath, `unix ${i}`))
        assert.deepStrictEqual(new Set(replies.map(pidOf)), new Set(pids))

        // One replacement is allowed in the window; the next one waits for it.
        process.kill(pids[0]!, "SIGKILL")
        let successor = 0
        yield* eventually(
          Effect.gen(function*() {
            yield* primary.command("workers")
            const workers = (yield* primary.next("workers")).workers as Array<{ pid: number }>
            successor = workers.find((w) => !pids.includes(w.pid))?.pid ?? 0
            return workers.length === 2 && successor !== 0
          }),
          (ok) => ok,
          "the first successor",
          60_000
        )
        primary.adopt(successor)
        process.kill(successor, "SIGKILL")
        yield* Effect.sleep("1500 millis")
        yield* primary.command("workers")
        assert.deepStrictEqual((yield* primary.next("workers")).workers.map((w: { pid: number }) => w.pid), [pids[1]])
        assert.include(primary.stderr(), "restart limit")
        // The surviving worker serves the path alone.
        assert.strictEqual(pidOf(yield* askOnce(socketPath, "alone")), pids[1])

        yield* primary.command("release")
        const released = yield* primary.next("released", 30_000)
        assert.strictEqual(released.fdsAfter, released.fdsBefore)
        assert.isFalse(fileExists(socketPath))
        for (const pid of pids) assert.isFalse(isAlive(pid))
      }),
    120_000
  )

  it.scopedLive(
    "a listen error in the workers fails the group in the primary, which ends every worker",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const busy = path.join(dir, "busy")
        // Not a socket: listening on it fails (AddressInUse), and the file is never removed.
        cp.execFileSync("touch", [busy])
        const primary = yield* fixture(yield* bundle("serverCluster"), [
          JSON.stringify({ where: { path: busy }, workers: 2 })
        ])
        const failed = yield* primary.next("failed", 60_000)
        assert.include(failed.error, "ListenError")
        assert.include(failed.error, "AddressInUse")
        assert.strictEqual((yield* primary.exited).code, 1)
        assert.isTrue(fileExists(busy))
      }),
    120_000
  )

  it.effect("bad options are InvalidArgument, before any worker is forked", () =>
    Effect.gen(function*() {
      const where = WhereToListen.onPort(0)
      for (
        const options of [{ workers: 0 }, { workers: 1.5 }, { restart: { limit: -1 } }, { startTimeout: -1 }, {
          handleSignals: "yes"
        }]
      ) {
        const exit = yield* Effect.exit(Effect.scoped(ServerCluster.make(where, () => Effect.void, options as never)))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "InvalidArgument")
      }
    }))
})
