/**
 * A tracer that records every span (name, parent, attributes, events, exit) so that tests can
 * read spans back.
 */
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

export interface Recorded extends Tracer.Span {
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> }>
  exit: Exit.Exit<unknown, unknown> | undefined
}

export const recordingTracer = () => {
  const spans: Array<Recorded> = []
  let ids = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const attributes = new Map<string, unknown>(Object.entries(options?.attributes ?? {}))
      const events: Recorded["events"] = []
      const span: Recorded = {
        _tag: "Span",
        name,
        spanId: `span${++ids}`,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        events,
        exit: undefined,
        end(endTime, exit) {
          ;(this as { status: Tracer.SpanStatus }).status = { _tag: "Ended", startTime, endTime, exit }
          this.exit = exit
        },
        attribute(key, value) {
          attributes.set(key, value)
        },
        event(name, _startTime, eventAttributes) {
          events.push({ name, attributes: eventAttributes ?? {} })
        },
        addLinks() {}
      }
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}
