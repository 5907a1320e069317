/**
 * Turning command-line arguments into effect-tcp targets: `HOST PORT` or `--unix PATH`.
 *
 * @since 0.1.0
 */
import type * as Address from "effect-tcp/Address"
import * as BindToAddress from "effect-tcp/BindToAddress"
import * as BindToPort from "effect-tcp/BindToPort"
import * as WhereToConnect from "effect-tcp/WhereToConnect"
import * as WhereToListen from "effect-tcp/WhereToListen"
import * as Effect from "effect/Effect"
import { type CliFailure, usage } from "./exit.js"

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
  readonly unix: string | undefined
  readonly localPort?: number | undefined
  readonly localAddress?: string | undefined
}): Effect.Effect<WhereToConnect.WhereToConnect<Address.Address>, CliFailure> => {
  if (input.unix !== undefined) {
    if (input.positional.length > 0) {
      return Effect.fail(usage("give either HOST PORT or --unix PATH, not both"))
    }
    if (input.localPort !== undefined || input.localAddress !== undefined) {
      return Effect.fail(usage("--local-port and --local-address apply to TCP only"))
    }
    return Effect.succeed(WhereToConnect.file(input.unix))
  }
  if (input.positional.length !== 2) {
    return Effect.fail(
      usage(
        `expected HOST PORT (or --unix PATH), got ${
          input.positional.map((a) => JSON.stringify(a)).join(" ") || "nothing"
        }`
      )
    )
  }
  const [host, portText] = input.positional as [string, string]
  return Effect.map(parsePort(portText), (port) =>
    WhereToConnect.hostAndPort(host, port, {
      ...(input.localPort !== undefined ? { viaLocalPort: input.localPort } : {}),
      ...(input.localAddress !== undefined ? { viaLocalInterface: input.localAddress } : {})
    }))
}

/**
 * Where to listen, from `--port N`, `--host ADDR` and `--unix PATH`. Without `--host`, a TCP
 * listener binds every address (as netcat does); without `--port`, the OS chooses the port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const whereToListen = (input: {
  readonly port: number | undefined
  readonly host: string | undefined
  readonly unix: string | undefined
}): Effect.Effect<WhereToListen.WhereToListen, CliFailure> => {
  if (input.unix !== undefined) {
    return input.port !== undefined || input.host !== undefined
      ? Effect.fail(usage("give either --port/--host or --unix PATH, not both"))
      : Effect.succeed(WhereToListen.onFile(input.unix))
  }
  const address = input.host === undefined
    ? BindToAddress.AllAddresses
    : input.host === "localhost"
    ? BindToAddress.Localhost
    : BindToAddress.Address(input.host)
  const port = input.port === undefined || input.port === 0
    ? BindToPort.OnPortChosenByOs
    : BindToPort.OnPort(input.port)
  return Effect.succeed(WhereToListen.bindTo(address, port))
}

/**
 * `--timeout SECONDS` as a duration in milliseconds, checked.
 *
 * @since 0.1.0
 * @category constructors
 */
export const timeoutMillis = (seconds: number | undefined): Effect.Effect<number | undefined, CliFailure> =>
  seconds === undefined
    ? Effect.succeed(undefined)
    : Number.isFinite(seconds) && seconds > 0
    ? Effect.succeed(Math.round(seconds * 1000))
    : Effect.fail(usage(`invalid --timeout ${seconds}: expected a positive number of seconds`))
