/**
 * The `etcp` command line: parses the arguments, prints the help and usage errors, and only
 * then loads the command that runs (effect, effect-tcp; `run.ts`), so that `etcp --help` and a
 * mistyped option answer at once.
 *
 * Every error is printed as one line on standard error, and the exit status says what kind of
 * error it was (see `exit.ts`; a usage error is 2).
 *
 * @since 0.2.0
 */
import * as Args from "./args.js"
import * as Commands from "./commands.js"
import type * as Run from "./run.js"

const usageError = (message: string): void => {
  process.stderr.write(`etcp: ${message}\n`)
  process.exitCode = 2
}

/** `-h`/`--help` among a command's options (not after `--`, not as an option's value). */
const asksForHelp = (spec: Args.Spec, argv: ReadonlyArray<string>): boolean => {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === "--") return false
    if (word === "--help" || word === "-h") return true
    const name = word.startsWith("--") ? word.split("=")[0]! : word
    const entry = Object.entries(spec.options).find(([key, flag]) =>
      `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` === name || `-${flag.alias}` === name
    )
    if (entry !== undefined && entry[1].kind !== "boolean" && !word.includes("=")) i++
  }
  return false
}

/**
 * Runs `etcp ARGV…`. `load` loads the commands' implementations (a separate bundle once built),
 * called only when a command runs. The exit status is set on `process`.
 *
 * @since 0.2.0
 * @category running
 */
export const main = (
  argv: ReadonlyArray<string>,
  load: () => typeof Run | Promise<typeof Run>
): void => {
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(Commands.topHelp)
    return
  }
  if (name === "--version" || name === "-V") {
    process.stdout.write(`${Commands.version}\n`)
    return
  }
  const spec = Commands.all.find((c) => c.name === name)
  if (spec === undefined) {
    return usageError(
      `unknown command ${JSON.stringify(name)}: expected one of ${
        Commands.all.map((c) => c.name).join(", ")
      } (etcp --help)`
    )
  }
  if (asksForHelp(spec, rest)) {
    process.stdout.write(Args.help(spec))
    return
  }
  let parsed: Args.Parsed<Record<string, Args.Flag<unknown>>>
  try {
    parsed = Args.parse<Record<string, Args.Flag<unknown>>>(spec, rest)
  } catch (error) {
    if (error instanceof Args.UsageError) return usageError(`${spec.name}: ${error.message} (etcp ${spec.name} --help)`)
    throw error
  }
  void Promise.resolve(load()).then((run) => run.run(spec.name, parsed))
}
