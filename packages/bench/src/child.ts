// The part of a benchmark child that does not depend on the implementation (see build.ts: every child bundle starts here).
import { fail, startControl } from "./control.js"
import type { ChildConfig } from "./protocol.js"

export const start = (config: ChildConfig, load: () => (config: ChildConfig) => void): void => {
  startControl()
  setTimeout(
    () => fail(`${config.role} ${config.impl} ${config.scenario}: deadline of ${config.deadlineMs} ms exceeded`),
    config.deadlineMs
  ).unref()
  process.on("uncaughtException", (e) => fail(`uncaught exception: ${e instanceof Error ? e.stack : String(e)}`))
  process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`))
  let run: (config: ChildConfig) => void
  try {
    run = load()
  } catch (e) {
    return fail(`cannot load ${config.impl}: ${e instanceof Error ? e.stack : String(e)}`)
  }
  run(config)
}
