/**
 * `etcp bench`: runs the benchmark package (`packages/bench`) in a child process and passes its
 * table through.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
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
  readonly scenarios: Option.Option<string>
  readonly impls: Option.Option<string>
}): ReadonlyArray<string> => {
  const source = fs.existsSync(benchMain) ? fs.readFileSync(benchMain, "utf8") : ""
  const quick = source.includes("\"--quick\"") ? ["--quick"] : ["--smoke"]
  return [
    ...(options.full ? [] : quick),
    ...Option.match(options.scenarios, { onNone: () => [], onSome: (s) => ["--scenarios", s] }),
    ...Option.match(options.impls, { onNone: () => [], onSome: (s) => ["--impls", s] })
  ]
}

const description =
  `Run the effect-tcp benchmarks (the repository's packages/bench): the same TCP scenarios on raw node:net, @effect/platform-node sockets and effect-tcp, printed as one table with ratios. By default the quick table; --full runs the complete benchmark (minutes).

Examples:
  etcp bench
  etcp bench --scenarios echo,bulk
  etcp bench --full`

/**
 * The `bench` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "bench",
  {
    full: Options.boolean("full").pipe(Options.withDescription("The complete benchmark rather than the quick table.")),
    scenarios: Options.text("scenarios").pipe(
      Options.withPseudoName("LIST"),
      Options.withDescription("Only these scenarios (comma-separated, as the benchmark names them)."),
      Options.optional
    ),
    impls: Options.text("impls").pipe(
      Options.withPseudoName("LIST"),
      Options.withDescription("Only these implementations (comma-separated)."),
      Options.optional
    )
  },
  (config) =>
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
).pipe(Command.withDescription(description))
