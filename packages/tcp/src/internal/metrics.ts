/**
 * The metrics of effect-tcp, updated with `unsafeUpdate` from socket callbacks (no fiber, no
 * effect per event). Per-chunk byte counts are accumulated per connection and added to the
 * metric when the connection closes, so the read path never touches the metric registry.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

export type Side = "client" | "server"

const sideTag = (side: Side) => [MetricLabel.make("side", side)]

/** Connections opened (connected or accepted and given a reader and writer). */
export const connectionsOpened = Metric.counter("effect_tcp_connections_opened_total", {
  description: "Connections opened, by side (client, server)",
  incremental: true
})

/** Connections whose socket has closed. */
export const connectionsClosed = Metric.counter("effect_tcp_connections_closed_total", {
  description: "Connections closed, by side (client, server)",
  incremental: true
})

/** Connections open now. */
export const connectionsOpen = Metric.gauge("effect_tcp_connections_open", {
  description: "Connections open now, by side (client, server)"
})

/** Bytes received from peers, added when each connection closes. */
export const bytesRead = Metric.counter("effect_tcp_bytes_read_total", {
  description: "Bytes received, by side, counted when the connection closes",
  incremental: true
})

/** Bytes handed to the socket, added when each connection closes. */
export const bytesWritten = Metric.counter("effect_tcp_bytes_written_total", {
  description: "Bytes written, by side, counted when the connection closes",
  incremental: true
})

/** Failed connection attempts, by reason. */
export const connectFailures = Metric.counter("effect_tcp_connect_failures_total", {
  description: "Failed connects, by reason (Refused, Timeout, HostNotFound, …)",
  incremental: true
})

/** Connections a server accepted and closed at once (drop mode, or too many waiting). */
export const acceptsDropped = Metric.counter("effect_tcp_accepts_dropped_total", {
  description: "Accepted connections closed at once, by cause (drop, overflow)",
  incremental: true
})

/** Writers torn down because bytes waited longer than the buffer age limit. */
export const bufferAgeLimitTrips = Metric.counter("effect_tcp_buffer_age_limit_trips_total", {
  description: "Connections torn down by the writer's buffer age limit",
  incremental: true
})

/** Connect attempts retried by `Reconnect.connectWithRetry`. */
export const connectRetries = Metric.counter("effect_tcp_connect_retries_total", {
  description: "Connect attempts retried by Reconnect.connectWithRetry",
  incremental: true
})

/** Connections that `Reconnect.make` replaced after the one it had dropped. */
export const reconnects = Metric.counter("effect_tcp_reconnects_total", {
  description: "Connections re-dialed by Reconnect.layer/make after the previous one dropped",
  incremental: true
})

/** Server-side TLS handshakes that failed, by reason. */
export const handshakeFailures = Metric.counter("effect_tcp_tls_handshake_failures_total", {
  description: "Failed server-side TLS handshakes, by reason",
  incremental: true
})

/** Per-connection counters, closed over one side's tags. */
export interface SideCounters {
  readonly opened: () => void
  readonly closed: (bytesRead: number, bytesWritten: number) => void
}

const makeSide = (side: Side): SideCounters => {
  const tags = sideTag(side)
  return {
    opened: () => {
      connectionsOpened.unsafeUpdate(1, tags)
      connectionsOpen.unsafeModify(1, tags)
    },
    closed: (read, written) => {
      connectionsClosed.unsafeUpdate(1, tags)
      connectionsOpen.unsafeModify(-1, tags)
      if (read > 0) bytesRead.unsafeUpdate(read, tags)
      if (written > 0) bytesWritten.unsafeUpdate(written, tags)
    }
  }
}

const sides: Record<Side, SideCounters> = { client: makeSide("client"), server: makeSide("server") }

export const forSide = (side: Side): SideCounters => sides[side]

export const connectFailed = (reason: string): void =>
  connectFailures.unsafeUpdate(1, [MetricLabel.make("reason", reason)])

export const acceptDropped = (cause: "drop" | "overflow"): void =>
  acceptsDropped.unsafeUpdate(1, [MetricLabel.make("cause", cause)])

export const bufferAgeLimitTripped = (): void => bufferAgeLimitTrips.unsafeUpdate(1, [])

export const connectRetried = (): void => connectRetries.unsafeUpdate(1, [])

export const reconnected = (): void => reconnects.unsafeUpdate(1, [])

export const handshakeFailed = (reason: string): void =>
  handshakeFailures.unsafeUpdate(1, [MetricLabel.make("reason", reason)])
