/**
 * Span helpers shared by connecting, retrying and serving.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** Effect's built-in tracer: its spans are not exported anywhere. */
const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * Whether spans made with these fiber refs would be recorded: tracing is enabled and the tracer
 * is not Effect's built-in one (a tracer was installed: OpenTelemetry, a test tracer, …). When
 * they would not, effect-tcp makes no span per connection (metrics are kept either way).
 */
export const recordsSpansIn = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) && fiber.currentTracer !== builtInTracer

/** `recordsSpansIn`, for a runtime's fiber refs. */
export const recordsSpans = (refs: FiberRefs.FiberRefs): boolean =>
  FiberRefs.getOrDefault(refs, FiberRef.currentTracerEnabled) &&
  Context.get(FiberRefs.getOrDefault(refs, DefaultServices.currentServices), Tracer.Tracer) !== builtInTracer

/** Records an event on the current span, if there is one, at the Clock's time. */
export const spanEvent = (name: string, attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.option(Effect.currentSpan),
    (span) =>
      Option.isNone(span) ?
        Effect.void :
        Effect.clockWith((clock) =>
          Effect.sync(() => span.value.event(name, clock.unsafeCurrentTimeNanos(), attributes))
        )
  )
