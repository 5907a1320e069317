/**
 * One server on every core: `ServerCluster.layer` runs the same `Server` in worker processes
 * (`node:cluster`) sharing one port. This file runs in the primary and in each worker: the
 * primary forks two workers, sends them clients (round-robin: consecutive connections go to
 * different workers), reads the counts every worker reports, and releases the group, which
 * stops accepting everywhere, lets the connections finish and ends the workers.
 *
 * Run: `pnpm --filter @effect-tcp/examples cores`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { BindToAddress, BindToPort, ServerCluster, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"

/** Answers every line with the pid of the worker that serves the connection. */
const Group = ServerCluster.layer(
  WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
  (conn) =>
    Effect.gen(function*() {
      const line = yield* conn.reader.readLine
      if (Option.isSome(line)) yield* conn.writer.writeLine(`${line.value} from worker ${process.pid}`)
    }),
  { workers: 2, maxConnections: 1_000, shutdownGracePeriod: "2 seconds" }
)

const program = Effect.gen(function*() {
  const group = yield* ServerCluster.ServerClusterTag
  // In a worker the Layer serves until the primary ends it.
  if (group.role === "worker") return yield* Effect.never
  const port = Number(group.listeningOn)
  const workers = yield* group.workers
  yield* Console.log(`${workers.length} workers listening on 127.0.0.1:${port}`)
  const servedBy = new Set<string>()
  for (const n of [1, 2, 3, 4]) {
    const reply = yield* Tcp.withConnection(
      WhereToConnect.hostAndPort("127.0.0.1", port),
      (conn) => Effect.zipRight(conn.writer.writeLine(`request ${n}`), conn.reader.readLine)
    )
    const text = Option.getOrElse(reply, () => "<end of stream>")
    servedBy.add(text.replace(/^.* from worker /, ""))
  }
  yield* Console.log(`4 requests served by ${servedBy.size} workers`)
  const stats = yield* group.stats
  yield* Console.log(`connections opened, summed over the workers: ${stats.total.connectionsOpened}`)
  yield* Console.log("cores: done")
})

program.pipe(Effect.provide(Group), NodeRuntime.runMain)
