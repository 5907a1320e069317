/**
 * Idle detection (Netty's `IdleStateHandler`) by sampling the byte counters of a connection's
 * reader and writer: no hook on the byte path, one timer per watched connection.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Idle from "../Idle.js"
import * as Reader from "../Reader.js"
import { InvalidArgument } from "../TcpError.js"
import * as Writer from "../Writer.js"

const invalid = (argument: string, message: string) =>
  Exit.fail(new InvalidArgument({ argument, message: `${argument}: ${message}` }))

/** A positive, finite duration in milliseconds, or undefined when absent; a string on bad input. */
const millis = (value: unknown): number | undefined | string => {
  if (value === undefined) return undefined
  let duration: Duration.Duration
  try {
    duration = Duration.decode(value as Duration.DurationInput)
  } catch {
    return `expected a duration, got ${String(value)}`
  }
  const ms = Duration.toMillis(duration)
  if (!Number.isFinite(ms) || ms <= 0) return `expected a positive finite duration, got ${Duration.format(duration)}`
  return ms
}

interface Watch {
  readonly state: Idle.IdleState
  readonly period: number
  readonly count: () => number
  last: number
  lastCount: number
}

export const watch = <E, R>(
  conn: Idle.Watched,
  options: Idle.IdleOptions<E, R>
): Effect.Effect<never, E | InvalidArgument, R> =>
  Effect.suspend((): Effect.Effect<never, E | InvalidArgument, R> => {
    if (
      typeof conn !== "object" || conn === null || !Reader.isReader(conn.reader) || !Writer.isWriter(conn.writer)
    ) {
      return invalid("conn", "expected a connection (with reader and writer)")
    }
    if (typeof options !== "object" || options === null) return invalid("options", "expected an options object")
    if (typeof options.onIdle !== "function") return invalid("onIdle", "expected a function")
    const periods: Array<[Idle.IdleState, unknown, string]> = [
      ["ReaderIdle", options.readerIdle, "readerIdle"],
      ["WriterIdle", options.writerIdle, "writerIdle"],
      ["AllIdle", options.allIdle, "allIdle"]
    ]
    // The counters are read synchronously (their effects are `Effect.sync`).
    let read = 0
    let written = 0
    const counters = {
      ReaderIdle: () => read,
      WriterIdle: () => written,
      AllIdle: () => read + written
    }
    const watches: Array<Watch> = []
    for (const [state, value, name] of periods) {
      const ms = millis(value)
      if (typeof ms === "string") return invalid(name, ms)
      if (ms !== undefined) watches.push({ state, period: ms, count: counters[state], last: 0, lastCount: 0 })
    }
    if (watches.length === 0) return invalid("options", "expected at least one of readerIdle, writerIdle, allIdle")
    // Activity is seen at the next sample: an idle state fires between its period and a quarter
    // period later than that after the last byte.
    const tick = Math.max(1, Math.min(...watches.map((w) => w.period)) / 4)
    const sample = Effect.zipWith(conn.reader.bytesRead, conn.writer.bytesWritten, (r, w) => {
      read = r
      written = w
    })
    const step: Effect.Effect<void, E, R> = Effect.flatMap(Effect.zipRight(sample, Clock.currentTimeMillis), (now) => {
      const due: Array<Idle.IdleState> = []
      for (const w of watches) {
        const count = w.count()
        if (count !== w.lastCount) {
          w.lastCount = count
          w.last = now
        } else if (now - w.last >= w.period) {
          // Fires again after another period while still idle (a heartbeat each period).
          w.last = now
          due.push(w.state)
        }
      }
      return due.length === 0 ? Effect.void : Effect.forEach(due, options.onIdle, { discard: true })
    })
    const start = Effect.flatMap(Effect.zipRight(sample, Clock.currentTimeMillis), (now) =>
      Effect.sync(() => {
        for (const w of watches) {
          w.last = now
          w.lastCount = w.count()
        }
      }))
    return Effect.zipRight(start, Effect.forever(Effect.zipRight(Effect.sleep(tick), step)))
  })

export const during: {
  <E, R>(
    conn: Idle.Watched,
    options: Idle.IdleOptions<E, R>
  ): <A, E1, R1>(self: Effect.Effect<A, E1, R1>) => Effect.Effect<A, E | E1 | InvalidArgument, R | R1>
  <A, E1, R1, E, R>(
    self: Effect.Effect<A, E1, R1>,
    conn: Idle.Watched,
    options: Idle.IdleOptions<E, R>
  ): Effect.Effect<A, E | E1 | InvalidArgument, R | R1>
} = ((...args: Array<any>) => {
  if (args.length === 2) return (self: Effect.Effect<any, any, any>) => Effect.raceFirst(self, watch(args[0], args[1]))
  return Effect.raceFirst(args[0], watch(args[1], args[2]))
}) as any
