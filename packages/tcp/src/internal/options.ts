/**
 * Validation of arguments and options, done before any socket is opened: bad input is a typed
 * `InvalidArgument`, never a throw, a defect or a leaked descriptor.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Reader from "../Reader.js"
import { InvalidArgument } from "../TcpError.js"
import type * as Writer from "../Writer.js"
import type { ReaderConfig } from "./reader.js"
import type { WriterConfig } from "./writer.js"

/** Defaults of Async's `Tcp` and `Reader`/`Writer`. */
export const defaults = {
  readerBufferSize: 128 * 1024,
  writerBufferSize: 130 * 1024,
  maxLineLength: 1024 * 1024,
  bufferAgeLimit: Duration.minutes(2),
  closeTimeout: Duration.seconds(30),
  connectTimeout: Duration.seconds(10),
  resolveTimeout: Duration.seconds(10)
} as const

/** Longest Unix socket path Linux accepts, in bytes, without the terminating NUL. */
export const maxUnixPathBytes = 107

/** A failed check. Thrown inside `check` blocks only; `guard` turns it into a typed failure. */
class Invalid {
  constructor(readonly error: InvalidArgument) {}
}

export const invalidArgument = (argument: string, message: string): never => {
  throw new Invalid(new InvalidArgument({ argument, message: `${argument}: ${message}` }))
}

/** Runs synchronous checks and returns their result, or the `InvalidArgument` they raised. */
export const guard = <A>(check: () => A): { readonly _tag: "Ok"; readonly value: A } | {
  readonly _tag: "Invalid"
  readonly error: InvalidArgument
} => {
  try {
    return { _tag: "Ok", value: check() }
  } catch (error) {
    if (error instanceof Invalid) return { _tag: "Invalid", error: error.error }
    throw error
  }
}

export const checkPort = (argument: string, port: unknown): number => {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    invalidArgument(argument, `expected an integer port from 0 to 65535, got ${String(port)}`)
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
    invalidArgument(argument, `expected a positive integer, got ${String(size)}`)
  }
  return size as number
}

export const checkCount = (argument: string, count: unknown, fallback: number): number => {
  if (count === undefined) return fallback
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    invalidArgument(argument, `expected a non-negative integer, got ${String(count)}`)
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

/** A duration in milliseconds, or `undefined` for "unlimited" when that is allowed. */
export const checkDuration = (argument: string, input: unknown, fallback: Duration.Duration): number => {
  if (input === undefined) return Duration.toMillis(fallback)
  // Checked before decoding: Duration clamps negative and NaN inputs to zero.
  if (isNegative(input)) invalidArgument(argument, `expected a non-negative duration, got ${String(input)}`)
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded)) return invalidArgument(argument, `expected a duration, got ${String(input)}`)
  const millis = Duration.toMillis(decoded.value)
  if (Number.isNaN(millis) || millis < 0) invalidArgument(argument, "expected a non-negative duration")
  return millis
}

export const checkBoolean = (argument: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback
  if (typeof value !== "boolean") invalidArgument(argument, `expected a boolean, got ${String(value)}`)
  return value as boolean
}

export const readerConfig = (options: Reader.ReaderOptions | undefined): ReaderConfig => ({
  bufferSize: checkSize("readerBufferSize", options?.readerBufferSize, defaults.readerBufferSize),
  maxLineLength: checkSize("maxLineLength", options?.maxLineLength, defaults.maxLineLength, true)
})

export const writerConfig = (options: Writer.WriterOptions | undefined): WriterConfig => {
  const age = options?.bufferAgeLimit
  const bufferAgeLimit = age === "unlimited" ? undefined : checkDuration("bufferAgeLimit", age, defaults.bufferAgeLimit)
  return {
    bufferSize: checkSize("writerBufferSize", options?.writerBufferSize, defaults.writerBufferSize),
    bufferAgeLimit: bufferAgeLimit === undefined || bufferAgeLimit === Infinity
      ? undefined
      : Math.min(bufferAgeLimit, 2 ** 31 - 1),
    closeTimeout: Math.min(checkDuration("closeTimeout", options?.closeTimeout, defaults.closeTimeout), 2 ** 31 - 1)
  }
}

/** Keep-alive: off, on with the OS default delay, or on with a delay in milliseconds. */
export type KeepAlive = { readonly enabled: false } | { readonly enabled: true; readonly initialDelay: number }

export const checkKeepAlive = (input: unknown): KeepAlive => {
  if (input === undefined || input === false) return { enabled: false }
  if (input === true) return { enabled: true, initialDelay: 0 }
  return { enabled: true, initialDelay: checkDuration("keepAlive", input, Duration.zero) }
}
