/**
 * `@effect/cluster` runners talking over effect-tcp: three runner processes, one entity type
 * (`Counter`), messages sent from one runner and routed to the runners that own the entities.
 *
 * Each runner is `ClusterSocket.layer` (effect-tcp's drop-in replacement of `NodeClusterSocket`):
 * it listens with an effect-tcp `Server` and reaches the other runners with effect-tcp
 * connections. The runners share their runner storage and shard locks in PostgreSQL.
 *
 * This file is both programs: run without arguments it starts a PostgreSQL of its own (or uses
 * `DATABASE_URL`), forks three runners (this file with `runner`), asks the first one to
 * increment twelve counters until every runner owns some of them, asks the second one to read
 * them back, then stops the runners and the database.
 *
 * Run: `pnpm --filter @effect-tcp/examples cluster`
 *
 * It needs PostgreSQL's server binaries (Debian/Ubuntu: `apt-get install postgresql`; the
 * example starts its own throwaway server on a Unix socket in a temporary directory and removes
 * it, the system service is not used), or `DATABASE_URL=postgres://user:pass@host/db` for a
 * database of yours (the runners create their tables there, prefixed `cluster_`).
 */
import * as Entity from "@effect/cluster/Entity"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import { NodeRuntime } from "@effect/platform-node"
import * as Rpc from "@effect/rpc/Rpc"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Console, Effect, Exit, Layer, Logger, LogLevel, Option, Queue, Redacted, Ref, Schema } from "effect"
import * as ClusterSocket from "effect-tcp/ClusterSocket"
import * as cp from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { throwawayPostgres } from "./throwawayPostgres.js"

// -------------------------------------------------------------------------------------------------
// The entity: a counter per id, living on whichever runner owns its shard.

const Counter = Entity.make("Counter", [
  Rpc.make("Increment", { success: Schema.Struct({ value: Schema.Number, runner: Schema.Number }) }),
  Rpc.make("Get", { success: Schema.Struct({ value: Schema.Number, runner: Schema.Number }) })
])

/** Where the database is: a Unix-socket directory and port, or a URL. */
type Database = { readonly host: string; readonly port: number } | { readonly url: string }

/** What the primary tells a runner, and what a runner answers. */
type ToRunner = { readonly increment: ReadonlyArray<string> } | { readonly get: ReadonlyArray<string> } | {
  readonly stop: true
}
type FromRunner =
  | { readonly ready: number }
  | { readonly replies: ReadonlyArray<{ readonly id: string; readonly value: number; readonly runner: number }> }

// -------------------------------------------------------------------------------------------------
// A runner (`cluster.ts runner <port> <database>`)

const runner = (port: number, database: Database) => {
  const CounterLive = Counter.toLayer(Effect.gen(function*() {
    const count = yield* Ref.make(0)
    return {
      Increment: () => Effect.map(Ref.updateAndGet(count, (n) => n + 1), (value) => ({ value, runner: port })),
      Get: () => Effect.map(Ref.get(count), (value) => ({ value, runner: port }))
    }
  }))
  // The one line that differs from a runner on @effect/platform-node: ClusterSocket for NodeClusterSocket.
  const Runner = ClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)),
      shardsPerGroup: 30,
      // Short intervals so that the three runners share the shards within seconds.
      refreshAssignmentsInterval: "300 millis",
      shardLockRefreshInterval: "1 second",
      shardLockExpiration: "4 seconds"
    }
  })
  const Database = PgClient.layer(
    "url" in database
      ? { url: Redacted.make(database.url) }
      : { host: database.host, port: database.port, username: "postgres", database: "postgres" }
  )
  const send = (message: FromRunner) => Effect.sync(() => process.send?.(message))
  const serve = Effect.gen(function*() {
    const client = yield* Counter.client
    const commands = yield* Queue.unbounded<ToRunner>()
    process.on("message", (message: ToRunner) => commands.unsafeOffer(message))
    yield* send({ ready: port })
    for (;;) {
      const command = yield* Queue.take(commands)
      if ("stop" in command) return
      const ids = "increment" in command ? command.increment : command.get
      const replies = yield* Effect.forEach(
        ids,
        (id) =>
          Effect.map(
            "increment" in command ? client(id).Increment() : client(id).Get(),
            (reply) => ({ id, ...reply })
          ),
        { concurrency: "unbounded" }
      )
      yield* send({ replies })
    }
  })
  return serve.pipe(
    Effect.provide(CounterLive.pipe(Layer.provideMerge(Runner), Layer.provide(Database))),
    // The runners' own logs (shard acquisition, …) stay quiet; the primary prints what happens.
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
}

// -------------------------------------------------------------------------------------------------
// The primary: a database, three runners, the messages.

const freePort = Effect.async<number>((resume) => {
  const server = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

interface Child {
  readonly port: number
  readonly send: (message: ToRunner) => Effect.Effect<void>
  readonly next: Effect.Effect<FromRunner>
}

/** Forks a runner process; on release, asks it to stop and kills it (by its PID) if it has not exited within 15 s. */
const forkRunner = (port: number, database: Database) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<FromRunner>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = cp.fork(fileURLToPath(import.meta.url), ["runner", String(port), JSON.stringify(database)], {
          stdio: ["ignore", "inherit", "inherit", "ipc"],
          // node-postgres warns about the queries @effect/sql-pg pipelines on one client.
          execArgv: [...process.execArgv, "--no-deprecation"]
        })
        child.on("message", (message: FromRunner) => inbox.unsafeOffer(message))
        return child
      }),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          if (child.connected) child.send({ stop: true } satisfies ToRunner)
          else child.kill("SIGTERM")
        })
    )
    const exited = Effect.async<never, Error>((resume) => {
      child.once("exit", (code) => resume(Effect.fail(new Error(`runner on port ${port} exited (code ${code})`))))
    })
    const next = Effect.raceFirst(Queue.take(inbox), exited).pipe(Effect.orDie)
    const ready = yield* next
    if (!("ready" in ready)) return yield* Effect.dieMessage("a runner spoke before it was ready")
    return {
      port,
      send: (message: ToRunner) => Effect.sync(() => void child.send(message)),
      next
    } satisfies Child
  })

const ask = (child: Child, message: ToRunner) =>
  Effect.flatMap(
    Effect.zipRight(child.send(message), child.next),
    (answer) => "replies" in answer ? Effect.succeed(answer.replies) : Effect.dieMessage("expected replies")
  )

const primary = Effect.gen(function*() {
  const url = process.env["DATABASE_URL"]
  const database: Database = url !== undefined && url !== "" ? { url } : yield* throwawayPostgres
  yield* Console.log(
    url !== undefined && url !== "" ? "runner storage: DATABASE_URL" : "runner storage: a throwaway PostgreSQL"
  )
  const ports = [yield* freePort, yield* freePort, yield* freePort]
  // One at a time: runners started together have failed now and then creating the storage's tables.
  const runners = yield* Effect.forEach(ports, (port) => forkRunner(port, database))
  yield* Console.log(`3 runners listening on 127.0.0.1:${ports.join(", ")}`)
  const [first, second] = runners as [Child, Child, Child]
  const ids = Array.from({ length: 12 }, (_, i) => `counter-${i}`)

  // The shards are shared out as the runners start: increment from the first runner until
  // every runner owns some of the counters (bounded: 60 rounds).
  let increments = 0
  let owners = new Map<string, number>()
  for (let round = 0; round < 60; round++) {
    const replies = yield* ask(first, { increment: ids })
    increments++
    owners = new Map(replies.map((r) => [r.id, r.runner]))
    if (new Set(owners.values()).size === 3) break
    yield* Effect.sleep("500 millis")
  }
  yield* Console.log(
    `${ids.length} counters incremented from the runner on ${first.port}, served by ${
      new Set(owners.values()).size
    } runners`
  )
  for (const port of ports) {
    const mine = ids.filter((id) => owners.get(id) === port)
    yield* Console.log(`  runner ${port}${port === first.port ? " (the sender)" : ""}: ${mine.join(" ")}`)
  }

  // Another runner reads them back: its messages reach the same entities, wherever they live.
  const values = yield* ask(second, { get: ids })
  yield* Console.log(
    `read back from the runner on ${second.port}: ${values.length} counters, answered by ${
      new Set(values.map((r) => r.runner)).size
    } runners, after ${increments} round(s) of increments`
  )
  yield* Console.log("cluster: done")
})

const [, , role, port, database] = process.argv
if (role === "runner") {
  NodeRuntime.runMain(runner(Number(port), JSON.parse(database!) as Database), {
    // The runner's Layer is released by now. @effect/cluster 0.60 leaves its RPC clients to the
    // other runners retrying in the background after that (with NodeClusterSocket too), which
    // would keep the process alive: end it.
    teardown: (exit) => process.exit(Exit.isSuccess(exit) ? 0 : 1)
  })
} else {
  NodeRuntime.runMain(Effect.scoped(primary))
}
