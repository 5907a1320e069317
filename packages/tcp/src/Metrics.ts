/**
 * The metrics of effect-tcp, as Effect `Metric`s: read them with `Metric.value`, export them
 * with any Effect metrics exporter (OpenTelemetry, Prometheus, …).
 *
 * Every metric here is updated from socket callbacks with `unsafeUpdate` (no fiber, no effect,
 * no allocation per event). The byte counters are kept per connection and added to the metrics
 * once, when the connection closes, so reading and writing chunks never touches the metric
 * registry; bytes of a connection still open are not in them yet (its `reader.bytesRead` and
 * `writer.bytesWritten` are exact at any time).
 *
 * Tags: `side` is `"client"` (made by `Tcp.connect`) or `"server"` (accepted by a `Server`);
 * `reason` is a `ConnectError` reason; `cause` says why an accepted connection was dropped.
 * A value with its tags is read with `Metric.tagged`:
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics } from "effect-tcp"
 *
 * const report = Effect.gen(function*() {
 *   const open = yield* Metric.value(Metric.tagged(Metrics.connectionsOpen, "side", "server"))
 *   const refused = yield* Metric.value(Metric.tagged(Metrics.connectFailures, "reason", "Refused"))
 *   yield* Effect.log(`open server connections: ${open.value}, refused connects: ${refused.count}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Metric from "effect/Metric"
import * as metrics from "./internal/metrics.js"

/**
 * The name of the tag that says which side of a connection a metric counts: `"client"` or
 * `"server"`.
 *
 * @since 0.1.0
 * @category tags
 */
export const sideTag = "side"

/**
 * The values of {@link sideTag}.
 *
 * @since 0.1.0
 * @category models
 */
export type Side = "client" | "server"

/**
 * The name of the tag of {@link connectFailures}: the `ConnectError` reason.
 *
 * @since 0.1.0
 * @category tags
 */
export const reasonTag = "reason"

/**
 * The name of the tag of {@link acceptsDropped}: `"drop"` or `"overflow"`.
 *
 * @since 0.1.0
 * @category tags
 */
export const causeTag = "cause"

/**
 * `effect_tcp_connections_opened_total`, tagged `side`: connections opened, counted when a
 * connection gets its reader and writer (a client's `Tcp.connect` succeeded, or a server
 * accepted a connection and gave it to a handler).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsOpened: Metric.Metric.Counter<number> = metrics.connectionsOpened

/**
 * `effect_tcp_connections_closed_total`, tagged `side`: connections whose socket has closed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsClosed: Metric.Metric.Counter<number> = metrics.connectionsClosed

/**
 * `effect_tcp_connections_open`, tagged `side`: connections open now (opened minus closed).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsOpen: Metric.Metric.Gauge<number> = metrics.connectionsOpen

/**
 * `effect_tcp_bytes_read_total`, tagged `side`: bytes received from peers, added when each
 * connection closes.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesRead: Metric.Metric.Counter<number> = metrics.bytesRead

/**
 * `effect_tcp_bytes_written_total`, tagged `side`: bytes handed to the OS, added when each
 * connection closes.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesWritten: Metric.Metric.Counter<number> = metrics.bytesWritten

/**
 * `effect_tcp_connect_failures_total`, tagged `reason` (`Refused`, `Timeout`, `HostNotFound`,
 * `Unreachable`, …): failed connects, one per `Tcp.connect` or `Tcp.connectSock` that failed
 * with `ConnectError` (however many addresses it tried).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectFailures: Metric.Metric.Counter<number> = metrics.connectFailures

/**
 * `effect_tcp_connect_retries_total`: connect attempts that `Reconnect.connectWithRetry` made
 * after a transient failure (the first attempt of each call is not counted).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectRetries: Metric.Metric.Counter<number> = metrics.connectRetries

/**
 * `effect_tcp_reconnects_total`: connections that `Reconnect.make` / `Reconnect.layer` dialed
 * to replace one that dropped (the first connection is not counted).
 *
 * @since 0.1.0
 * @category metrics
 */
export const reconnects: Metric.Metric.Counter<number> = metrics.reconnects

/**
 * `effect_tcp_accepts_dropped_total`, tagged `cause`: connections a server accepted and closed
 * at once, either because it was told to drop incoming connections (`"drop"`) or because more
 * clients were waiting for a slot than `backlog` allows (`"overflow"`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const acceptsDropped: Metric.Metric.Counter<number> = metrics.acceptsDropped

/**
 * `effect_tcp_buffer_age_limit_trips_total`: connections torn down because written bytes waited
 * unflushed longer than the writer's `bufferAgeLimit` (the peer stopped reading).
 *
 * @since 0.1.0
 * @category metrics
 */
export const bufferAgeLimitTrips: Metric.Metric.Counter<number> = metrics.bufferAgeLimitTrips
