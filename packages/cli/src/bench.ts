/**
 * `etcp bench`: runs the benchmark package (`packages/bench`) in a child process and passes its
 * table through.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import type * as Args from "./args.js"
import type * as Commands from "./commands.js"
import { CliFailure, ExitCode } from "./exit.js"

/**
 * The benchmark's entry point in this repository.
 *
 * @since 0.1.0
 * @category constants
 */
export const benchMain = fileURLToPath(new URL("../../bench/src/main.ts", import.meta.url))

/**
 * The flags the benchmark gets: its quick table unless `full`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const benchArgs = (options: {
  readonly full: boolean
  readonly scenarios: string | undefined
  readonly impls: string | undefined
}): ReadonlyArray<string> => {
  const source = fs.existsSync(benchMain) ? fs.readFileSync(benchMain, "utf8") : ""
  const quick = source.includes("\"--quick\"") ? ["--quick"] : ["--smoke"]
  return [
    ...(options.full ? [] : quick),
    ...(options.scenarios === undefined ? [] : ["--scenarios", options.scenarios]),
    ...(options.impls === undefined ? [] : ["--impls", options.impls])
  ]
}

/**
 * Runs `etcp bench`.
 *
 * @since 0.2.0
 * @category commands
 */
export const run = ({ options: config }: Args.Parsed<typeof Commands.bench.options>) =>
  Effect.gen(function*() {
    if (!fs.existsSync(benchMain)) {
      return yield* Effect.fail(
        new CliFailure({
          message: `the benchmark is not here: ${benchMain} (etcp bench runs from the repository)`,
          code: ExitCode.Failure
        })
      )
    }
    const args = benchArgs(config)
    const tsx = import.meta.resolve("tsx")
    const code = yield* Effect.async<number>((resume) => {
      const child = spawn(process.execPath, ["--import", tsx, benchMain, ...args], {
        stdio: "inherit",
        cwd: fileURLToPath(new URL("../../bench/", import.meta.url))
      })
      child.on("exit", (status, signal) => resume(Effect.succeed(status ?? (signal ? 128 : 1))))
      child.on("error", () => resume(Effect.succeed(ExitCode.Failure)))
      return Effect.sync(() => {
        child.kill("SIGTERM")
      })
    })
    if (code !== 0) {
      return yield* Effect.fail(new CliFailure({ message: `the benchmark failed (exit status ${code})`, code }))
    }
  })
