/**
 * Runs one `etcp` command (already parsed) as the program's main fiber: SIGINT and SIGTERM
 * interrupt it (exit status 130), its error is printed as one line, and the process exits with
 * the status that stands for it once standard output is drained. Each command's code is loaded
 * only when that command runs.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Args from "./args.js"
import type * as Commands from "./commands.js"
import { codeOf, describe, ExitCode } from "./exit.js"

type Command = (parsed: Args.Parsed<any>) => Effect.Effect<void, unknown>

const commands: Record<Commands.Name, () => Promise<Command>> = {
  connect: () => import("./connect.js").then((m) => m.run as Command),
  listen: () => import("./listen.js").then((m) => m.run as Command),
  send: () => import("./transfer.js").then((m) => m.runSend as Command),
  receive: () => import("./transfer.js").then((m) => m.runReceive as Command),
  bench: () => import("./bench.js").then((m) => m.run as Command)
}

/** The exit status of a finished run, printing its error (one line) if it failed. */
const finish = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Ok
  if (Cause.isInterruptedOnly(exit.cause)) return ExitCode.Interrupted
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    process.stderr.write(`etcp: ${describe(failure.value)}\n`)
    return codeOf(failure.value)
  }
  const defect = Cause.squash(exit.cause)
  process.stderr.write(`etcp: internal error: ${describe(defect)}\n`)
  return ExitCode.Failure
}

/**
 * Runs the command `name` with its parsed command line, then exits the process.
 *
 * @since 0.2.0
 * @category running
 */
export const run = async (name: Commands.Name, parsed: Args.Parsed<any>): Promise<void> => {
  const command = await commands[name]()
  // A fiber waiting on nothing but a timer or a deferred would let Node exit: hold the loop open.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const fiber = Effect.runFork(command(parsed))
  const interrupt = () => void Effect.runFork(Fiber.interrupt(fiber))
  process.on("SIGINT", interrupt)
  process.on("SIGTERM", interrupt)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    const code = finish(exit)
    // Standard input may still hold the event loop open: exit as soon as standard output is drained.
    const done = () => process.exit(code)
    setTimeout(done, 2000).unref()
    process.stdout.write("", done)
  })
}
