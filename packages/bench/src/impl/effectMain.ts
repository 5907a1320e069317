// The process shell shared by the two Effect-based implementations: the harness protocol around a
// server or a client program, run with NodeRuntime.runMain.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { fail, send, waitFor } from "../control.js"
import type { ChildConfig, ClientResult } from "../protocol.js"

export interface EffectClientScenario {
  /** the measured part; resolves with what the client checked and measured */
  readonly run: (port: number) => Effect.Effect<ClientResult, unknown>
}

export interface EffectImplementation {
  /** starts listening in the scope and returns the port */
  readonly server: (config: ChildConfig) => Effect.Effect<number, unknown, Scope.Scope>
  /** prepares the client (outside the measurement) */
  readonly client: (config: ChildConfig) => EffectClientScenario
}

const now = Effect.sync(() => performance.now())

/** Times `self`: its result, and the elapsed milliseconds. */
export const timed = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, number], E, R> =>
  Effect.flatMap(now, (start) => Effect.map(self, (a) => [a, performance.now() - start] as const))

export const runChild = (config: ChildConfig, impl: EffectImplementation): void => {
  const program: Effect.Effect<void, unknown> = config.role === "server" ?
    Effect.scoped(Effect.gen(function*() {
      const port = yield* impl.server(config)
      send({ t: "ready", port })
      yield* Effect.promise(() => waitFor("exit"))
    })) :
    Effect.gen(function*() {
      const scenario = impl.client(config)
      send({ t: "ready" })
      const go = yield* Effect.promise(() => waitFor("go"))
      const result = yield* scenario.run(go.port!)
      send({ t: "result", ...result })
      yield* Effect.promise(() => waitFor("exit"))
    })
  NodeRuntime.runMain(
    program.pipe(Effect.catchAllCause((cause) => Effect.sync(() => fail(Cause.pretty(cause))))),
    { disableErrorReporting: true, teardown: () => process.exit(0) }
  )
}
