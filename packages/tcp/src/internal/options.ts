/**
 * The option bags shared by connecting and serving (`ReaderOptions`, `WriterOptions`,
 * `SocketOptions`), checked into the configurations the implementation uses, and the one
 * function that applies socket options to a socket. Runs inside `validate`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as net from "node:net"
import type * as Connection from "../Connection.js"
import type * as Reader from "../Reader.js"
import type * as Writer from "../Writer.js"
import * as defaults from "./defaults.js"
import type { ReaderConfig } from "./reader.js"
import { checkBoolean, checkDuration, checkSize, timerMillis } from "./validate.js"
import type { WriterConfig } from "./writer.js"

export const readerConfig = (options: Reader.ReaderOptions | undefined): ReaderConfig => ({
  bufferSize: checkSize("readerBufferSize", options?.readerBufferSize, defaults.readerBufferSize),
  maxLineLength: checkSize("maxLineLength", options?.maxLineLength, defaults.maxLineLength, true),
  maxReadLength: checkSize("maxReadLength", options?.maxReadLength, defaults.maxReadLength, true),
  readTimeout: readTimeout(options?.readTimeout)
})

const readTimeout = (input: unknown): number | undefined => {
  const millis = checkDuration("readTimeout", input, Duration.zero)
  return millis === 0 || millis === Infinity ? undefined : Math.max(1, timerMillis(millis))
}

export const writerConfig = (options: Writer.WriterOptions | undefined): WriterConfig => {
  const age = options?.bufferAgeLimit
  const bufferAgeLimit = age === "unlimited" ? Infinity : checkDuration("bufferAgeLimit", age, defaults.bufferAgeLimit)
  return {
    bufferSize: checkSize("writerBufferSize", options?.writerBufferSize, defaults.writerBufferSize),
    bufferAgeLimit: bufferAgeLimit === Infinity ? undefined : timerMillis(bufferAgeLimit),
    closeTimeout: timerMillis(checkDuration("closeTimeout", options?.closeTimeout, defaults.closeTimeout))
  }
}

/** Keep-alive: off, or on with a delay in milliseconds (0: the OS default). */
export type KeepAlive = { readonly enabled: false } | { readonly enabled: true; readonly initialDelay: number }

/** `SocketOptions`, checked. */
export interface SocketConfig {
  readonly noDelay: boolean
  readonly keepAlive: KeepAlive
}

const checkKeepAlive = (input: unknown): KeepAlive => {
  const value = input === undefined ? defaults.keepAlive : input
  if (value === false) return { enabled: false }
  if (value === true) return { enabled: true, initialDelay: 0 }
  return { enabled: true, initialDelay: checkDuration("keepAlive", value, Duration.zero) }
}

export const socketConfig = (options: Connection.SocketOptions | undefined): SocketConfig => ({
  noDelay: checkBoolean("noDelay", options?.noDelay, defaults.noDelay),
  keepAlive: checkKeepAlive(options?.keepAlive)
})

/** Applies `SocketOptions` to a connected or accepted inet socket (they mean nothing on a Unix socket). */
export const applySocketOptions = (socket: net.Socket, config: SocketConfig): void => {
  // Free when unchanged: Node calls into the handle only when the value differs from the socket's.
  socket.setNoDelay(config.noDelay)
  if (config.keepAlive.enabled) socket.setKeepAlive(true, config.keepAlive.initialDelay)
}

/** `ConnectOptions.interrupt` as an effect that completes when it fires. */
const abandonWhen = (interrupt: Effect.Effect<unknown, unknown> | AbortSignal): Effect.Effect<void> =>
  Effect.isEffect(interrupt)
    ? Effect.asVoid(Effect.exit(interrupt))
    : Effect.async<void>((resume) => {
      if (interrupt.aborted) return resume(Effect.void)
      const onAbort = () => resume(Effect.void)
      interrupt.addEventListener("abort", onAbort, { once: true })
      return Effect.sync(() => interrupt.removeEventListener("abort", onAbort))
    })

/** `effect`, failing with `interrupted()` instead when the `interrupt` option fires first. */
export const raceInterrupt = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  interrupt: Effect.Effect<unknown, unknown> | AbortSignal | undefined,
  interrupted: () => E
): Effect.Effect<A, E, R> =>
  interrupt === undefined
    ? effect
    : Effect.raceFirst(
      effect,
      Effect.zipRight(abandonWhen(interrupt), Effect.suspend(() => Effect.fail(interrupted())))
    )
