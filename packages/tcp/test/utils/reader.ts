/**
 * Driving the internal `ReaderImpl` directly: a fake source (records pause/resume) and a feeder
 * that pushes chunks with random yields in between, so reads see every kind of arrival.
 */
import * as Effect from "effect/Effect"
import { ReaderImpl } from "../../src/internal/reader.js"

export interface FakeSource {
  paused: boolean
  pauses: number
  resumes: number
  readonly pause: () => void
  readonly resume: () => void
}

export const fakeSource = (): FakeSource => {
  const source: FakeSource = {
    paused: false,
    pauses: 0,
    resumes: 0,
    pause: () => {
      source.paused = true
      source.pauses++
    },
    resume: () => {
      source.paused = false
      source.resumes++
    }
  }
  return source
}

export const makeReader = (
  config: {
    readonly bufferSize?: number
    readonly maxLineLength?: number
    readonly maxReadLength?: number
    readonly readTimeout?: number
  } = {},
  source: FakeSource = fakeSource()
): ReaderImpl =>
  new ReaderImpl(source, {
    bufferSize: config.bufferSize ?? 64,
    maxLineLength: config.maxLineLength ?? Infinity,
    maxReadLength: config.maxReadLength ?? Infinity,
    readTimeout: config.readTimeout
  })

/** Pushes `chunks`, yielding `pauses[i]` times (0–2) before each, then ends the stream. */
export const feed = (
  reader: ReaderImpl,
  chunks: ReadonlyArray<Uint8Array>,
  pauses: ReadonlyArray<number> = [],
  end = true
): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < chunks.length; i++) {
      const n = pauses.length === 0 ? 0 : pauses[i % pauses.length]!
      for (let k = 0; k < n; k++) yield* Effect.yieldNow()
      reader.push(chunks[i]!)
    }
    if (end) reader.end()
  })
