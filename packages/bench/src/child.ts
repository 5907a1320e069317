// Entry point of every benchmark child process:
//   node --import tsx src/child.ts '<ChildConfig as JSON>'
// It loads only the implementation it runs, so a raw process never loads Effect.
import { fail, startControl } from "./control.js"
import type { ChildConfig } from "./protocol.js"

const config = JSON.parse(process.argv[2] ?? "{}") as ChildConfig

startControl()
setTimeout(() => fail(`${config.role} ${config.impl} ${config.scenario}: deadline of ${config.deadlineMs} ms exceeded`), config.deadlineMs).unref()
process.on("uncaughtException", (e) => fail(`uncaught exception: ${e instanceof Error ? e.stack : String(e)}`))
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`))

const load = async () => {
  switch (config.impl) {
    case "raw":
      return (await import("./impl/raw.js")).run
    case "platform":
      return (await import("./impl/platform.js")).run
    case "effect-tcp":
      return (await import("./impl/effectTcp.js")).run
  }
}

load().then(
  (run) => run(config),
  (e: unknown) => fail(`cannot load ${config.impl}: ${e instanceof Error ? e.stack : String(e)}`)
)

