/**
 * fast-check inside Effect tests: one async property helper and the arbitraries the byte-stream
 * properties share.
 */
import * as Effect from "effect/Effect"
import * as fc from "fast-check"

/** How many turns of the event loop to let pass between two deliveries (0–2, a few times). */
export const pauses = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 })

/** Runs an async fast-check property inside an Effect test. */
export const property = <Ts extends [unknown, ...Array<unknown>]>(
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  body: (...args: Ts) => Effect.Effect<void, unknown>,
  parameters: fc.Parameters<Ts> = {}
) =>
  Effect.promise(() =>
    fc.assert(fc.asyncProperty(...arbitraries, (...args: Ts) => Effect.runPromise(body(...args))), parameters)
  )
