// The hand-written command-line parser: options anywhere among the arguments, `--name=value`,
// aliases, `--`, and one-line usage errors; and a property: however a command line spells its
// options (long or alias, `=` or a separate word, in any order), it parses to the same values.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Args from "../src/args.js"
import * as Commands from "../src/commands.js"

const usage = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, Args.UsageError)
    return (error as Error).message
  }
  return assert.fail("expected a usage error")
}

describe("Args.parse", () => {
  it("options among positional arguments, aliases, --name=value, --", () => {
    const parsed = Args.parse(Commands.send, ["-w", "2.5", "file.bin", "--limit-rate=10Mi", "host", "--", "-9"])
    assert.deepStrictEqual(parsed.args, ["file.bin", "host", "-9"])
    assert.deepStrictEqual(parsed.options, { unix: undefined, timeout: 2.5, limitRate: "10Mi" })
    const listen = Args.parse(Commands.listen, ["-k", "--max-connections", "3", "-p", "0"])
    assert.strictEqual(listen.options.keepOpen, true)
    assert.strictEqual(listen.options.echo, false)
    assert.strictEqual(listen.options.maxConnections, 3)
    assert.strictEqual(listen.options.port, 0)
    assert.deepStrictEqual(Args.parse(Commands.send, ["-"]).args, ["-"])
  })

  it("usage errors: unknown option, missing or malformed value, repeated option, extra argument", () => {
    assert.match(usage(() => Args.parse(Commands.connect, ["--bogus"])), /unknown option "--bogus"/)
    assert.match(usage(() => Args.parse(Commands.connect, ["--timeout"])), /--timeout needs a value/)
    assert.match(usage(() => Args.parse(Commands.listen, ["--port", "80x"])), /"80x" is not an integer/)
    assert.match(usage(() => Args.parse(Commands.connect, ["-w", "soon"])), /"soon" is not a number/)
    assert.match(usage(() => Args.parse(Commands.listen, ["-p", "1", "--port", "2"])), /--port given twice/)
    assert.match(usage(() => Args.parse(Commands.listen, ["--echo=yes"])), /--echo takes no value/)
    assert.match(usage(() => Args.parse(Commands.connect, ["a", "1", "b"])), /unexpected argument "b"/)
  })

  it("help lists every option with its alias and value name, and the examples", () => {
    for (const spec of Commands.all) {
      const text = Args.help(spec)
      assert.include(text, `Usage: etcp ${spec.name}`)
      for (const key of Object.keys(spec.options)) {
        assert.include(text, `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
      }
    }
    assert.include(Args.help(Commands.connect), "-w, --timeout SECONDS")
  })

  it("property: any spelling of the same options parses to the same values", () => {
    const option = fc.oneof(
      fc.record({
        key: fc.constant("port"),
        long: fc.constant("--port"),
        short: fc.constant("-p"),
        value: fc.nat(65535).map(String)
      }),
      fc.record({
        key: fc.constant("host"),
        long: fc.constant("--host"),
        short: fc.constant("-s"),
        value: fc.constantFrom("127.0.0.1", "::1", "-x", "a=b")
      }),
      fc.record({
        key: fc.constant("maxConnections"),
        long: fc.constant("--max-connections"),
        short: fc.constant("-m"),
        value: fc.integer({ min: -5, max: 500 }).map(String)
      }),
      fc.record({
        key: fc.constant("keepOpen"),
        long: fc.constant("--keep-open"),
        short: fc.constant("-k"),
        value: fc.constant(undefined)
      }),
      fc.record({
        key: fc.constant("echo"),
        long: fc.constant("--echo"),
        short: fc.constant("-e"),
        value: fc.constant(undefined)
      })
    )
    const spelling = fc.record({ alias: fc.boolean(), equals: fc.boolean() })
    fc.assert(
      fc.property(
        fc.uniqueArray(option, { selector: (o) => o.key, maxLength: 5 }),
        fc.array(spelling, { minLength: 5, maxLength: 5 }),
        (options, spellings) => {
          const words = options.flatMap((o, i) => {
            const s = spellings[i]!
            if (o.value === undefined) return [s.alias ? o.short : o.long]
            if (s.equals && !s.alias) return [`${o.long}=${o.value}`]
            return [s.alias ? o.short : o.long, o.value]
          })
          const parsed = Args.parse(Commands.listen, words)
          assert.deepStrictEqual(parsed.args, [])
          for (const o of options) {
            const got = (parsed.options as Record<string, unknown>)[o.key]
            assert.deepStrictEqual(
              got,
              o.value === undefined ? true : /^-?[0-9]+$/.test(o.value) && o.key !== "host" ? Number(o.value) : o.value
            )
          }
        }
      )
    )
  })
})
