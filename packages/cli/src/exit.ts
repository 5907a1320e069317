/**
 * Exit statuses of `etcp` and the one-line rendering of every error.
 *
 * | status | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | an error during the exchange (the peer reset the connection, a file could not be read, …) |
 * | 2 | bad usage: unknown option, missing or invalid argument |
 * | 3 | connection refused |
 * | 4 | connection timed out (`--timeout`) |
 * | 5 | host not found |
 * | 6 | network or host unreachable |
 * | 7 | any other connect failure (local address in use, permission denied, …) |
 * | 8 | cannot listen (address in use, permission denied, address not available) |
 * | 130 | interrupted (Ctrl-C, SIGINT or SIGTERM) |
 *
 * @since 0.1.0
 */
import type { TcpError } from "effect-tcp"
import * as Data from "effect/Data"
import { errorText } from "./stdio.js"

/**
 * The exit statuses, by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  Refused: 3,
  Timeout: 4,
  HostNotFound: 5,
  Unreachable: 6,
  ConnectFailed: 7,
  ListenFailed: 8,
  Interrupted: 130
} as const

/**
 * A failure of the command line itself (bad combination of options, a file that does not
 * exist, …), with the exit status it stands for.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly message: string
  readonly code: number
}> {}

/**
 * A usage error: exit status 2.
 *
 * @since 0.1.0
 * @category constructors
 */
export const usage = (message: string): CliFailure => new CliFailure({ message, code: ExitCode.Usage })

/**
 * The exit status that stands for an error.
 *
 * @since 0.1.0
 * @category conversions
 */
export const codeOf = (error: unknown): number => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return ExitCode.Failure
  const e = error as TcpError.TcpError | CliFailure | { readonly _tag: string }
  switch (e._tag) {
    case "CliFailure":
      return (e as CliFailure).code
    case "InvalidArgument":
      return ExitCode.Usage
    case "ListenError":
      return ExitCode.ListenFailed
    case "ConnectError": {
      switch ((e as TcpError.ConnectError).reason) {
        case "Refused":
          return ExitCode.Refused
        case "Timeout":
          return ExitCode.Timeout
        case "HostNotFound":
          return ExitCode.HostNotFound
        case "Unreachable":
          return ExitCode.Unreachable
        default:
          return ExitCode.ConnectFailed
      }
    }
    default:
      return ExitCode.Failure
  }
}

/**
 * One readable line for an error (no stack trace).
 *
 * @since 0.1.0
 * @category conversions
 */
export const describe = (error: unknown): string => {
  const text = errorText(error)
  return text.split("\n")[0] ?? text
}
