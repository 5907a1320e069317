/**
 * Connecting with retries, and a connection kept alive by re-dialing.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Address } from "../Address.js"
import type { Connection } from "../Connection.js"
import type * as Reconnect from "../Reconnect.js"
import type { ConnectError, InvalidArgument } from "../TcpError.js"
import type { WhereToConnect } from "../WhereToConnect.js"
import * as WhereToConnectModule from "../WhereToConnect.js"
import * as metrics from "./metrics.js"
import * as internalTcp from "./tcp.js"
import { spanEvent } from "./tracing.js"
import { checkBoolean, invalidArgument, show, validate } from "./validate.js"

/** `Reconnect.Reconnecting`, the tag. */
export const Reconnecting = Context.GenericTag<Reconnect.Reconnecting<Address>>("effect-tcp/Reconnect/Reconnecting")

/** @internal */
export const isTransient = (
  error: ConnectError,
  options?: { readonly retryHostNotFound?: boolean | undefined }
): boolean => {
  switch (error.reason) {
    case "Refused":
    case "Timeout":
    case "Unreachable":
      return true
    case "HostNotFound":
      return options?.retryHostNotFound === true
    default:
      return false
  }
}

/** Checks the arguments of `connectWithRetry` and `make` once, before any dial. */
const checkRetry = (
  where: WhereToConnect<Address>,
  schedule: unknown,
  options: Reconnect.RetryOptions | undefined
): Effect.Effect<void, InvalidArgument> =>
  Effect.zipRight(
    validate(() => {
      if (!Schedule.isSchedule(schedule)) invalidArgument("schedule", `expected a Schedule, got ${show(schedule)}`)
      checkBoolean("retryHostNotFound", options?.retryHostNotFound, false)
      const isTransient: unknown = options?.isTransient
      if (isTransient !== undefined && typeof isTransient !== "function") {
        invalidArgument("isTransient", `expected a function, got ${show(isTransient)}`)
      }
    }),
    internalTcp.checkConnect(where, options)
  )

/** @internal */
export const connectWithRetry = <A extends Address, Out, R>(
  where: WhereToConnect<A>,
  schedule: Schedule.Schedule<Out, ConnectError, R>,
  options?: Reconnect.RetryOptions
): Effect.Effect<Connection<A>, ConnectError | InvalidArgument, Scope.Scope | R> =>
  Effect.gen(function*() {
    yield* checkRetry(where, schedule, options)
    const driver = yield* Schedule.driver(schedule)
    const transient = options?.isTransient ?? ((error: ConnectError) => isTransient(error, options))
    for (let attempt = 1;; attempt++) {
      if (attempt > 1) metrics.connectRetried()
      const exit = yield* Effect.exit(internalTcp.connect(where, options))
      if (Exit.isSuccess(exit)) {
        yield* spanEvent("effect-tcp.connect.succeeded", { "effect-tcp.attempt": attempt })
        yield* Effect.annotateCurrentSpan("effect-tcp.attempts", attempt)
        return exit.value
      }
      const failure = Cause.failureOrCause(exit.cause)
      if (Either.isRight(failure)) return yield* Effect.failCause(failure.right)
      const error = failure.left
      const retry = error._tag === "ConnectError" && transient(error)
      const next = retry ? yield* Effect.either(driver.next(error as ConnectError)) : undefined
      const willRetry = next !== undefined && Either.isRight(next)
      yield* spanEvent("effect-tcp.connect.failed", {
        "effect-tcp.attempt": attempt,
        "effect-tcp.reason": error._tag === "ConnectError" ? error.reason : error._tag,
        "effect-tcp.retry": willRetry
      })
      if (!willRetry) {
        yield* Effect.annotateCurrentSpan("effect-tcp.attempts", attempt)
        return yield* Effect.fail(error)
      }
    }
  }).pipe(
    Effect.withSpan("effect-tcp.connectWithRetry", {
      kind: "client",
      attributes: { "effect-tcp.target": WhereToConnectModule.format(where) }
    })
  )

/** A connection the service holds, with the scope that owns it. */
interface Live<A extends Address> {
  readonly connection: Connection<A>
  readonly generation: number
  readonly scope: Scope.CloseableScope
}

/** Completes when the connection's socket has ended (peer FIN) or closed. */
const dropped = <A extends Address>(connection: Connection<A>): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const raw = connection.socket.raw
    if (raw.destroyed || raw.readableEnded) return resume(Effect.void)
    const onDrop = () => resume(Effect.void)
    raw.once("end", onDrop)
    raw.once("close", onDrop)
    return Effect.sync(() => {
      raw.off("end", onDrop)
      raw.off("close", onDrop)
    })
  })

/** @internal */
export const make = <A extends Address, Out, R>(
  where: WhereToConnect<A>,
  schedule: Schedule.Schedule<Out, ConnectError, R>,
  options?: Reconnect.RetryOptions
): Effect.Effect<Reconnect.Reconnecting<A>, ConnectError | InvalidArgument, Scope.Scope | R> =>
  Effect.gen(function*() {
    yield* checkRetry(where, schedule, options)
    const parent = yield* Effect.scope
    const state = yield* SubscriptionRef.make<Reconnect.State<A>>({ _tag: "Connecting", generation: 0 })
    const released = yield* Deferred.make<void>()
    yield* Scope.addFinalizer(parent, Deferred.succeed(released, undefined))
    let live: Live<A> | undefined = undefined
    let generation = 0
    /** Offered by `reconnect`: drop the current connection (or try again after giving up). */
    const requests = yield* Queue.sliding<void>(1)

    /** Dials (with retries) and installs the new connection, releasing the previous one. */
    const dial: Effect.Effect<Live<A>, ConnectError | InvalidArgument, R> = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        const exit = yield* Effect.exit(restore(Scope.extend(connectWithRetry(where, schedule, options), scope)))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, exit)
          return yield* Effect.failCause(exit.cause)
        }
        const previous = live
        generation++
        const next: Live<A> = { connection: exit.value, generation, scope }
        live = next
        if (generation > 1) metrics.reconnected()
        yield* SubscriptionRef.set(state, { _tag: "Connected", connection: next.connection, generation })
        if (previous !== undefined) yield* Scope.close(previous.scope, Exit.void)
        return next
      })
    )

    const failWith = (error: ConnectError | InvalidArgument) =>
      SubscriptionRef.set(state, { _tag: "Failed", error, generation })

    /**
     * Waits for the current connection to drop (or for `reconnect`), then re-dials; after giving
     * up, waits for `reconnect` and tries again.
     */
    const supervise = (first: Live<A>): Effect.Effect<never, never, R> =>
      Effect.gen(function*() {
        let current = first
        for (;;) {
          const byRequest = yield* Effect.raceFirst(
            Effect.as(Queue.take(requests), true),
            Effect.as(dropped(current.connection), false)
          )
          if (byRequest) {
            yield* Scope.close(current.scope, Exit.void)
          } else {
            // Send our FIN too; the reader keeps what it had until the replacement is installed.
            yield* Effect.forkIn(current.connection.writer.close, current.scope)
          }
          yield* SubscriptionRef.set(state, { _tag: "Connecting", generation })
          for (;;) {
            yield* Queue.takeAll(requests)
            const exit = yield* Effect.either(dial)
            if (Either.isRight(exit)) {
              current = exit.right
              break
            }
            yield* failWith(exit.left)
            yield* Queue.take(requests)
          }
        }
      })

    const first = yield* dial
    yield* Effect.forkIn(Effect.interruptible(supervise(first)), parent)

    const connection: Effect.Effect<Connection<A>, ConnectError | InvalidArgument> = Effect.flatMap(
      SubscriptionRef.get(state),
      (current) =>
        current._tag === "Connected"
          ? Effect.succeed(current.connection)
          : current._tag === "Failed"
          ? Effect.fail(current.error)
          : Effect.flatMap(
            Stream.runHead(Stream.filter(state.changes, (s) => s._tag !== "Connecting")),
            (settled) =>
              Option.isSome(settled) && settled.value._tag === "Connected"
                ? Effect.succeed(settled.value.connection)
                : Option.isSome(settled) && settled.value._tag === "Failed"
                ? Effect.fail(settled.value.error)
                : Effect.interrupt
          )
    )

    const changes: Stream.Stream<Reconnect.Generation<A>> = state.changes.pipe(
      Stream.takeWhile((s) => s._tag !== "Failed"),
      Stream.filterMap((s) =>
        s._tag === "Connected" ? Option.some({ connection: s.connection, generation: s.generation }) : Option.none()
      ),
      Stream.changesWith((a, b) => a.generation === b.generation),
      Stream.interruptWhen(Deferred.await(released))
    )

    const reconnect: Effect.Effect<void> = Effect.flatMap(
      SubscriptionRef.modify(state, (s): [boolean, Reconnect.State<A>] =>
        s._tag === "Connecting" ? [false, s] : [true, { _tag: "Connecting", generation }]),
      (signal) =>
        signal ? Queue.offer(requests, undefined) : Effect.void
    )

    return {
      connection,
      state: SubscriptionRef.get(state),
      stateChanges: Stream.interruptWhen(state.changes, Deferred.await(released)),
      generation: Effect.sync(() =>
        generation
      ),
      changes,
      reconnect
    }
  })
