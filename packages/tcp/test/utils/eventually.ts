/**
 * Polling for a state that other fibers or the event loop reach (a connection closing, a metric
 * updated from a socket's 'close' event, a log written by a handler).
 */
import * as Effect from "effect/Effect"

/**
 * Reads `read` every 5 ms until `check` holds for its value, and returns that value; dies after
 * `within` ms with `what` and the last value read.
 */
export const eventually = <A, E, R>(
  read: Effect.Effect<A, E, R>,
  check: (value: A) => boolean,
  what = "the condition",
  within = 5_000
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    for (;;) {
      const value = yield* read
      if (check(value)) return value
      if (Date.now() > deadline) {
        return yield* Effect.die(new Error(`timed out waiting for ${what}; last value: ${describe(value)}`))
      }
      yield* Effect.sleep(5)
    }
  })

const describe = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
