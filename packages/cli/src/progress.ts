/**
 * A progress bar for bulk transfers (bytes, rate, ETA), redrawn on standard error when it is a
 * terminal, and the one-line summary printed at the end in every case.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/**
 * `1536` → `"1.5 KiB"`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/**
 * Bytes per second, e.g. `"112.4 MiB/s"`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatRate = (bytes: number, seconds: number): string =>
  seconds <= 0 ? "-" : `${formatBytes(Math.round(bytes / seconds))}/s`

/**
 * Whole seconds as `m:ss` (or `h:mm:ss`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`
}

/**
 * One frame of the bar: `[#########.........]  45%  4.50 MiB / 10.0 MiB  12.3 MiB/s  ETA 0:01`,
 * or, when the total is unknown, the bytes and the rate only.
 *
 * @since 0.1.0
 * @category formatting
 */
export const renderFrame = (state: {
  readonly label: string
  readonly done: number
  readonly total: number | undefined
  readonly seconds: number
  readonly width: number
}): string => {
  const rate = formatRate(state.done, state.seconds)
  if (state.total === undefined) {
    return `${state.label}  ${formatBytes(state.done)}  ${rate}`
  }
  const fraction = state.total === 0 ? 1 : Math.min(1, state.done / state.total)
  const perSecond = state.seconds > 0 ? state.done / state.seconds : 0
  const eta = fraction >= 1 ? "0:00" : perSecond > 0 ? formatDuration((state.total - state.done) / perSecond) : "-:--"
  const tail = `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(state.done)} / ${
    formatBytes(state.total)
  }  ${rate}  ETA ${eta}`
  const barWidth = Math.max(10, Math.min(40, state.width - tail.length - state.label.length - 6))
  const filled = Math.floor(fraction * barWidth)
  return `${state.label} [${"#".repeat(filled)}${".".repeat(barWidth - filled)}] ${tail}`
}

/**
 * A running progress display.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Counts `n` more bytes done. */
  readonly add: (n: number) => void
  /** Bytes done so far. */
  readonly done: () => number
  /** Seconds since the start. */
  readonly elapsed: () => number
  /** Draws the last frame (on a terminal), then prints `summary` on its own line. */
  readonly finish: (summary: (done: number, seconds: number) => string) => Effect.Effect<void>
}

/**
 * Starts a progress display on `stream` for the life of the scope. On a terminal the bar is
 * drawn at once and redrawn every 100 ms; elsewhere nothing is printed until `finish`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly label: string
  readonly total: number | undefined
  readonly stream?: NodeJS.WriteStream | undefined
}): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    const stream = options.stream ?? process.stderr
    const interactive = stream.isTTY === true
    const start = performance.now()
    let done = 0
    let finished = false
    const elapsed = () => (performance.now() - start) / 1000
    const draw = () => {
      if (!interactive || finished) return
      const frame = renderFrame({
        label: options.label,
        done,
        total: options.total,
        seconds: elapsed(),
        width: stream.columns || Number(process.env["COLUMNS"]) || 80
      })
      stream.write(`\r${frame}\x1b[K`)
    }
    if (interactive) {
      yield* Effect.sync(draw).pipe(
        Effect.repeat(Schedule.spaced("100 millis")),
        Effect.forkScoped
      )
    }
    return {
      add: (n) => {
        done += n
      },
      done: () => done,
      elapsed,
      finish: (summary) =>
        Effect.sync(() => {
          draw()
          finished = true
          if (interactive) stream.write("\n")
          stream.write(`${summary(done, elapsed())}\n`)
        })
    }
  })
