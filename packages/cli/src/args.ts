/**
 * etcp's command-line parser and help, written by hand so that `etcp --help` and a usage error
 * load nothing else (no effect, no effect-tcp): start-up is the main cost of a short-lived
 * command, and `@effect/cli` alone doubled it.
 *
 * Options are `--name VALUE`, `--name=VALUE` or `-a VALUE` (one-letter alias), anywhere among the
 * positional arguments; `--` ends the options; `-` is a positional argument (standard input).
 *
 * @since 0.2.0
 */

/**
 * One option: a flag (`boolean`), or one that takes a value (`text`, `integer`, `number`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Flag<A> {
  readonly kind: "boolean" | "text" | "integer" | "number"
  readonly description: string
  readonly alias?: string | undefined
  /** The value's name in the help, e.g. `PORT`. */
  readonly pseudo?: string | undefined
  /** Phantom: the parsed value's type. */
  readonly _A?: (_: never) => A
}

/**
 * A flag: `true` when given.
 *
 * @since 0.2.0
 * @category constructors
 */
export const boolean = (description: string, alias?: string): Flag<boolean> => ({ kind: "boolean", description, alias })

/**
 * An option with a text value, `undefined` when not given.
 *
 * @since 0.2.0
 * @category constructors
 */
export const text = (pseudo: string, description: string, alias?: string): Flag<string | undefined> => ({
  kind: "text",
  pseudo,
  description,
  alias
})

/**
 * An option with an integer value, `undefined` when not given.
 *
 * @since 0.2.0
 * @category constructors
 */
export const integer = (pseudo: string, description: string, alias?: string): Flag<number | undefined> => ({
  kind: "integer",
  pseudo,
  description,
  alias
})

/**
 * An option with a decimal number value, `undefined` when not given.
 *
 * @since 0.2.0
 * @category constructors
 */
export const number = (pseudo: string, description: string, alias?: string): Flag<number | undefined> => ({
  kind: "number",
  pseudo,
  description,
  alias
})

/**
 * A command: its options (keys in camelCase, `--kebab-case` on the command line), the synopsis
 * of its positional arguments, how many it accepts, and its help text.
 *
 * @since 0.2.0
 * @category models
 */
export interface Spec<O extends Record<string, Flag<unknown>> = Record<string, Flag<unknown>>> {
  readonly name: string
  /** One line for the list of commands. */
  readonly summary: string
  /** The positional arguments in the usage line, e.g. `[HOST PORT]`. */
  readonly synopsis: string
  /** Descriptions of the positional arguments, for the help. */
  readonly arguments: ReadonlyArray<readonly [name: string, description: string]>
  readonly maxArgs: number
  readonly description: string
  readonly options: O
}

/**
 * The parsed values of a command's options.
 *
 * @since 0.2.0
 * @category models
 */
export type Values<O extends Record<string, Flag<unknown>>> = {
  readonly [K in keyof O]: O[K] extends Flag<infer A> ? A : never
}

/**
 * A parsed command line: the options, and the positional arguments.
 *
 * @since 0.2.0
 * @category models
 */
export interface Parsed<O extends Record<string, Flag<unknown>>> {
  readonly options: Values<O>
  readonly args: ReadonlyArray<string>
}

/**
 * A command line that does not fit its command (exit status 2).
 *
 * @since 0.2.0
 * @category errors
 */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

const convert = (flag: Flag<unknown>, name: string, value: string): string | number => {
  if (flag.kind === "text") return value
  const n = flag.kind === "integer"
    ? (/^[+-]?[0-9]+$/.test(value) ? Number(value) : NaN)
    : (/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?$/i.test(value) ? Number(value) : NaN)
  if (!Number.isFinite(n)) {
    throw new UsageError(
      `${name}: ${JSON.stringify(value)} is not ${flag.kind === "integer" ? "an integer" : "a number"}`
    )
  }
  return n
}

/**
 * Parses `argv` (the words after the command's name) for `spec`; throws a `UsageError` for an
 * unknown option, a missing or malformed value, an option given twice, or too many arguments.
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = <O extends Record<string, Flag<unknown>>>(
  spec: Spec<O>,
  argv: ReadonlyArray<string>
): Parsed<O> => {
  const byName = new Map<string, readonly [string, Flag<unknown>]>()
  for (const [key, flag] of Object.entries(spec.options)) {
    byName.set(`--${kebab(key)}`, [key, flag])
    if (flag.alias !== undefined) byName.set(`-${flag.alias}`, [key, flag])
  }
  const values: Record<string, unknown> = {}
  for (const [key, flag] of Object.entries(spec.options)) values[key] = flag.kind === "boolean" ? false : undefined
  const given = new Set<string>()
  const args: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === "--") {
      for (const rest of argv.slice(i + 1)) args.push(rest)
      break
    }
    if (!word.startsWith("-") || word === "-") {
      args.push(word)
      continue
    }
    const eq = word.startsWith("--") ? word.indexOf("=") : -1
    const name = eq === -1 ? word : word.slice(0, eq)
    const entry = byName.get(name)
    if (entry === undefined) throw new UsageError(`unknown option ${JSON.stringify(name)}`)
    const [key, flag] = entry
    if (given.has(key)) throw new UsageError(`--${kebab(key)} given twice`)
    given.add(key)
    if (flag.kind === "boolean") {
      if (eq !== -1) throw new UsageError(`${name} takes no value`)
      values[key] = true
      continue
    }
    const value = eq !== -1 ? word.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new UsageError(`${name} needs a value (${flag.pseudo})`)
    values[key] = convert(flag, name, value)
  }
  if (args.length > spec.maxArgs) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[spec.maxArgs])} (usage: ${usageLine(spec)})`)
  }
  return { options: values as Values<O>, args }
}

const optionLabel = (key: string, flag: Flag<unknown>): string =>
  `${flag.alias === undefined ? "    " : `-${flag.alias}, `}--${kebab(key)}${
    flag.pseudo === undefined ? "" : ` ${flag.pseudo}`
  }`

/**
 * The usage line: `etcp connect [OPTIONS] [HOST PORT]`.
 *
 * @since 0.2.0
 * @category help
 */
export const usageLine = (spec: Spec): string =>
  `etcp ${spec.name}${Object.keys(spec.options).length > 0 ? " [OPTIONS]" : ""}${
    spec.synopsis === "" ? "" : ` ${spec.synopsis}`
  }`

const wrap = (text: string, width: number, indent: string): string => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  lines.push(line)
  return lines.map((l) => indent + l).join("\n")
}

/**
 * A command's help: usage, description (with its exit statuses and examples), arguments and
 * options.
 *
 * @since 0.2.0
 * @category help
 */
export const help = (spec: Spec): string => {
  const labels = Object.entries(spec.options).map(([key, flag]) => [optionLabel(key, flag), flag.description] as const)
  const all = [...spec.arguments, ...labels, ["-h, --help", "Show this help."] as const]
  const column = Math.min(28, Math.max(...all.map(([label]) => label.length)) + 2)
  const row = ([label, description]: readonly [string, string]) =>
    label.length + 2 <= column
      ? `  ${label.padEnd(column)}${wrap(description, 100, " ".repeat(column + 2)).trimStart()}`
      : `  ${label}\n${wrap(description, 100, " ".repeat(column + 2))}`
  return [
    `Usage: ${usageLine(spec)}`,
    "",
    spec.description,
    ...(spec.arguments.length > 0 ? ["", "Arguments:", ...spec.arguments.map(row)] : []),
    "",
    "Options:",
    ...labels.map(row),
    row(["-h, --help", "Show this help."]),
    ""
  ].join("\n")
}
