// The part of a benchmark child that does not depend on the implementation (see build.ts: every child bundle starts here).
import cluster from "node:cluster"
import { answerStats, fail, runRawPrimary, startControl } from "./control.js"
import type { ChildConfig } from "./protocol.js"

export const start = (config: ChildConfig, load: () => (config: ChildConfig) => void): void => {
  // A cluster worker's stdin is the primary's: only the primary reads the harness's commands.
  if (cluster.isWorker) answerStats()
  else startControl()
  setTimeout(
    () => fail(`${config.role} ${config.impl} ${config.scenario}: deadline of ${config.deadlineMs} ms exceeded`),
    config.deadlineMs
  ).unref()
  process.on("uncaughtException", (e) => fail(`uncaught exception: ${e instanceof Error ? e.stack : String(e)}`))
  process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`))
  if (config.role === "server" && config.workers !== undefined) {
    if (config.impl === "platform") return fail("--workers: only raw and effect-tcp servers run on node:cluster")
    // raw: a plain node:cluster primary; effect-tcp: ServerCluster (see impl/effectTcp.ts).
    if (config.impl === "raw" && cluster.isPrimary) return runRawPrimary(config.workers)
  }
  let run: (config: ChildConfig) => void
  try {
    run = load()
  } catch (e) {
    return fail(`cannot load ${config.impl}: ${e instanceof Error ? e.stack : String(e)}`)
  }
  run(config)
}
