/**
 * Validation of arguments and options, done when the effect runs and before any socket is
 * opened: bad input is a typed `InvalidArgument`, never a throw, a defect or a leaked descriptor.
 *
 * The `check*` functions are synchronous and throw a private marker; `validate` runs them and
 * turns the marker into the effect's failure.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidArgument } from "../TcpError.js"

/** Longest Unix socket path Linux accepts, in bytes, without the terminating NUL. */
export const maxUnixPathBytes = 107

/** Largest delay, in milliseconds, that `setTimeout` takes (a longer one fires at once). */
export const maxTimerMillis = 2 ** 31 - 1

/** A duration in milliseconds as a timer delay: at most `maxTimerMillis`. */
export const timerMillis = (millis: number): number => Math.min(millis, maxTimerMillis)

/**
 * A value for an error message, calling nothing the value defines (a caller's `toString` may
 * throw, a Symbol cannot be converted, a string may be megabytes long).
 */
export const show = (value: unknown): string => {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "undefined":
    case "bigint":
      return String(value)
    case "string":
      return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value)
    default:
      return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`
  }
}

/** A failed check. Thrown inside `check` blocks only; `validate` turns it into a typed failure. */
class Invalid {
  constructor(readonly error: InvalidArgument) {}
}

/** Fails the enclosing `validate` with an `InvalidArgument` for `argument`. */
export const invalidArgument = (argument: string, message: string): never => {
  throw new Invalid(new InvalidArgument({ argument, message: `${argument}: ${message}` }))
}

/** Runs synchronous checks when the effect runs: their result, or the `InvalidArgument` they raised. */
export const validate = <A>(check: () => A): Effect.Effect<A, InvalidArgument> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(check())
    } catch (error) {
      if (error instanceof Invalid) return Effect.fail(error.error)
      throw error
    }
  })

export const checkPort = (argument: string, port: unknown): number => {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    invalidArgument(argument, `expected an integer port from 0 to 65535, got ${show(port)}`)
  }
  return port as number
}

export const checkHost = (argument: string, host: unknown): string => {
  if (typeof host !== "string" || host.trim() === "") invalidArgument(argument, "expected a non-empty host")
  if ((host as string).includes("\0")) invalidArgument(argument, "a host cannot contain NUL")
  return host as string
}

export const checkUnixPath = (argument: string, path: unknown): string => {
  if (typeof path !== "string" || path === "") invalidArgument(argument, "expected a non-empty path")
  const bytes = Buffer.byteLength(path as string, "utf8")
  if (bytes > maxUnixPathBytes) {
    invalidArgument(argument, `a Unix socket path is at most ${maxUnixPathBytes} bytes, this one is ${bytes}`)
  }
  if ((path as string).slice(1).includes("\0")) {
    invalidArgument(argument, "only an abstract socket name may start with NUL")
  }
  return path as string
}

export const checkSize = (argument: string, size: unknown, fallback: number, allowInfinity = false): number => {
  if (size === undefined) return fallback
  if (allowInfinity && size === Infinity) return Infinity
  if (typeof size !== "number" || !Number.isInteger(size) || size <= 0) {
    invalidArgument(argument, `expected a positive integer, got ${show(size)}`)
  }
  return size as number
}

export const checkCount = (argument: string, count: unknown, fallback: number): number => {
  if (count === undefined) return fallback
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    invalidArgument(argument, `expected a non-negative integer, got ${show(count)}`)
  }
  return count as number
}

const isNegative = (input: unknown): boolean =>
  typeof input === "number"
    ? !(input >= 0)
    : typeof input === "bigint"
    ? input < BigInt(0)
    : typeof input === "string"
    ? /^\s*-/.test(input)
    : Array.isArray(input) && input.some((part) => typeof part === "number" && !(part >= 0))

/**
 * A duration in milliseconds (`Infinity` for `Duration.infinity`); `fallback` when `input` is
 * `undefined`. Negative and NaN inputs are refused, not clamped to zero as `Duration.decode` does.
 */
export const checkDuration = (argument: string, input: unknown, fallback: Duration.Duration): number => {
  if (input === undefined) return Duration.toMillis(fallback)
  // Checked before decoding: Duration clamps negative and NaN inputs to zero.
  if (isNegative(input)) invalidArgument(argument, `expected a non-negative duration, got ${show(input)}`)
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded)) return invalidArgument(argument, `expected a duration, got ${show(input)}`)
  const millis = Duration.toMillis(decoded.value)
  if (Number.isNaN(millis) || millis < 0) invalidArgument(argument, "expected a non-negative duration")
  return millis
}

/** An options bag: `undefined` or an object (a number or a string is a caller's mistake, not "no options"). */
export const checkOptions = (argument: string, options: unknown): void => {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    invalidArgument(argument, `expected an options object, got ${show(options)}`)
  }
}

export const checkBoolean = (argument: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback
  if (typeof value !== "boolean") invalidArgument(argument, `expected a boolean, got ${show(value)}`)
  return value as boolean
}
