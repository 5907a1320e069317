/**
 * Counting this process's open file descriptors, to check that nothing leaks a socket.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"

/** Open descriptors of this process (the directory handle used to count is counted too, always). */
export const fdCount = (): number => fs.readdirSync("/proc/self/fd").length

/** What the open descriptors are, for a failure message. */
export const fdTargets = (): Array<string> =>
  fs.readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`
    } catch {
      return `${fd} -> ?`
    }
  })

/**
 * Waits (polling, up to `within` ms) until the descriptor count is back at `baseline` or below;
 * fails with the list of descriptors otherwise. Closing is asynchronous on the peer's side (a
 * raw test server closes its end when it sees our FIN), hence the wait.
 */
export const expectFdsBackTo = (baseline: number, within = 5_000): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    for (;;) {
      const now = fdCount()
      if (now <= baseline) return
      if (Date.now() > deadline) {
        return yield* Effect.fail(
          new Error(`descriptors leaked: ${now} open, baseline ${baseline}\n${fdTargets().join("\n")}`)
        )
      }
      yield* Effect.sleep("10 millis")
    }
  })
