/**
 * Turning command-line arguments into effect-tcp targets: `HOST PORT` or `--unix PATH`.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import { type Address, BindToAddress, BindToPort, WhereToConnect, WhereToListen } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type CliFailure, usage } from "./exit.js"

/**
 * `--unix PATH` (alias `-U`, as in netcat).
 *
 * @since 0.1.0
 * @category options
 */
export const unixOption = Options.text("unix").pipe(
  Options.withAlias("U"),
  Options.withPseudoName("PATH"),
  Options.withDescription("Use the Unix-domain stream socket at PATH instead of TCP."),
  Options.optional
)

/**
 * `--verbose` (alias `-v`): connection events on standard error.
 *
 * @since 0.1.0
 * @category options
 */
export const verboseOption = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Report connections on standard error.")
)

const parsePort = (text: string): Effect.Effect<number, CliFailure> => {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN
  return Number.isInteger(n) && n >= 0 && n <= 65535
    ? Effect.succeed(n)
    : Effect.fail(usage(`invalid port ${JSON.stringify(text)}: expected an integer from 0 to 65535`))
}

/**
 * Where to connect, from `[HOST PORT]` and `--unix PATH` (exactly one of them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const whereToConnect = (input: {
  readonly positional: ReadonlyArray<string>
  readonly unix: Option.Option<string>
  readonly localPort?: Option.Option<number> | undefined
  readonly localAddress?: Option.Option<string> | undefined
}): Effect.Effect<WhereToConnect.WhereToConnect<Address.Address>, CliFailure> =>
  Effect.gen(function*() {
    const localPort = input.localPort ?? Option.none()
    const localAddress = input.localAddress ?? Option.none()
    if (Option.isSome(input.unix)) {
      if (input.positional.length > 0) {
        return yield* Effect.fail(usage("give either HOST PORT or --unix PATH, not both"))
      }
      if (Option.isSome(localPort) || Option.isSome(localAddress)) {
        return yield* Effect.fail(usage("--local-port and --local-address apply to TCP only"))
      }
      return WhereToConnect.file(input.unix.value)
    }
    if (input.positional.length !== 2) {
      return yield* Effect.fail(usage("expected HOST PORT (or --unix PATH)"))
    }
    const [host, portText] = input.positional as [string, string]
    const port = yield* parsePort(portText)
    return WhereToConnect.hostAndPort(host, port, {
      ...(Option.isSome(localPort) ? { viaLocalPort: localPort.value } : {}),
      ...(Option.isSome(localAddress) ? { viaLocalInterface: localAddress.value } : {})
    })
  })

/**
 * Where to listen, from `--port N`, `--host ADDR` and `--unix PATH`. Without `--host`, a TCP
 * listener binds every address (as netcat does); without `--port`, the OS chooses the port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const whereToListen = (input: {
  readonly port: Option.Option<number>
  readonly host: Option.Option<string>
  readonly unix: Option.Option<string>
}): Effect.Effect<WhereToListen.WhereToListen, CliFailure> => {
  if (Option.isSome(input.unix)) {
    return Option.isSome(input.port) || Option.isSome(input.host)
      ? Effect.fail(usage("give either --port/--host or --unix PATH, not both"))
      : Effect.succeed(WhereToListen.onFile(input.unix.value))
  }
  const address = Option.match(input.host, {
    onNone: () => BindToAddress.AllAddresses,
    onSome: (host) => host === "localhost" ? BindToAddress.Localhost : BindToAddress.Address(host)
  })
  const port = Option.match(input.port, {
    onNone: () => BindToPort.OnPortChosenByOs,
    onSome: (n) => n === 0 ? BindToPort.OnPortChosenByOs : BindToPort.OnPort(n)
  })
  return Effect.succeed(WhereToListen.bindTo(address, port))
}

/**
 * `--timeout SECONDS` as a duration in milliseconds, checked.
 *
 * @since 0.1.0
 * @category constructors
 */
export const timeoutMillis = (seconds: Option.Option<number>): Effect.Effect<number | undefined, CliFailure> =>
  Option.match(seconds, {
    onNone: () => Effect.succeed(undefined),
    onSome: (s) =>
      Number.isFinite(s) && s > 0
        ? Effect.succeed(Math.round(s * 1000))
        : Effect.fail(usage(`invalid --timeout ${s}: expected a positive number of seconds`))
  })
