/**
 * The `etcp` command line: `etcp connect | listen | send | receive | bench`.
 *
 * Every error is printed as one line on standard error, and the exit status says what kind of
 * error it was (see `exit.ts`).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { command } from "./command.js"
import { codeOf, describe, ExitCode } from "./exit.js"

const cli = Command.run(command, { name: "etcp", version: "0.1.0" })

// `pnpm etcp …` runs in this package's directory; relative paths (FILE, --output, --unix) are
// meant relative to where the user typed the command, which pnpm passes as INIT_CWD.
if (process.env["npm_lifecycle_event"] === "etcp" && process.env["INIT_CWD"] !== undefined) {
  process.chdir(process.env["INIT_CWD"])
}

/** The exit status of a finished run, printing its error (one line) if it failed. */
const finish = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Ok
  if (Cause.isInterruptedOnly(exit.cause)) return ExitCode.Interrupted
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    // @effect/cli has already printed the usage error with its help.
    if (ValidationError.isValidationError(failure.value)) return ExitCode.Usage
    process.stderr.write(`etcp: ${describe(failure.value)}\n`)
    return codeOf(failure.value)
  }
  const defect = Cause.squash(exit.cause)
  process.stderr.write(`etcp: internal error: ${describe(defect)}\n`)
  return ExitCode.Failure
}

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit) => {
      const code = finish(exit)
      // Standard input may still hold the event loop open: exit as soon as standard output is drained.
      const done = () => process.exit(code)
      setTimeout(done, 2000).unref()
      process.stdout.write("", done)
    }
  })
)
