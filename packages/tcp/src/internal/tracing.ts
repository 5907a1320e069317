/**
 * Span helpers shared by connecting, retrying and serving.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

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
