/**
 * Reconnecting clients: a connect that retries transient failures on a `Schedule`, and a
 * connection kept alive by re-dialing when it drops.
 *
 * **Which failures are retried.** A `ConnectError` whose reason is `"Refused"`, `"Timeout"` or
 * `"Unreachable"` is transient: the server may be starting, restarting or briefly unreachable.
 * `"HostNotFound"` is retried only with `retryHostNotFound: true` (a typo in a host name never
 * heals, a name that is not registered yet may). Everything else stops at once:
 * `InvalidArgument`, `"PermissionDenied"`, `"AddressInUse"`, `"Interrupted"` (the `interrupt`
 * option fired) and `"Unknown"`. `isTransient` replaces this rule.
 *
 * **Observability.** `connectWithRetry` runs in a span `effect-tcp.connectWithRetry` (each
 * attempt is a child `effect-tcp.connect` span) with one span event per attempt
 * (`effect-tcp.connect.failed` with the attempt number, the reason and whether it will be
 * retried, or `effect-tcp.connect.succeeded`); every retry adds one to the metric
 * `effect_tcp_connect_retries_total`, every connection replaced by {@link make} one to
 * `effect_tcp_reconnects_total` (see `Metrics`).
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Reconnect, WhereToConnect } from "effect-tcp"
 *
 * // Wait for a server that is starting: retry every 100 ms, 50 times at most
 * const conn = Reconnect.connectWithRetry(
 *   WhereToConnect.hostAndPort("localhost", 7000),
 *   Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(50))
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Address } from "./Address.js"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/reconnect.js"
import type { ConnectOptions } from "./Tcp.js"
import type { ConnectError, InvalidArgument } from "./TcpError.js"
import type { WhereToConnect } from "./WhereToConnect.js"

/**
 * Options of {@link connectWithRetry} and {@link make}: the options of every connect, and which
 * failures to retry.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions extends ConnectOptions {
  /** Retry `"HostNotFound"` too. Defaults to false. */
  readonly retryHostNotFound?: boolean | undefined
  /** Decides which failures are retried, instead of the default rule ({@link isTransient}). */
  readonly isTransient?: ((error: ConnectError) => boolean) | undefined
}

/**
 * Whether a connect failure is worth retrying by default: `"Refused"`, `"Timeout"`,
 * `"Unreachable"`, and `"HostNotFound"` when `retryHostNotFound` is set.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient: (
  error: ConnectError,
  options?: { readonly retryHostNotFound?: boolean | undefined }
) => boolean = internal.isTransient

/**
 * Connects to `where`, retrying transient failures as `schedule` says (the schedule's input is
 * the `ConnectError`), and returns the connection, owned by the current scope.
 *
 * Fails with the last `ConnectError` when the schedule is done, and at once (without consulting
 * the schedule) on a failure that is not transient or on `InvalidArgument` (a bad `where`,
 * `schedule` that is not a `Schedule`, or bad option, checked before the first attempt). Each attempt gets
 * the whole `options.timeout`. Interrupting it (while connecting or while waiting between
 * attempts) stops it and leaves no socket open.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Reconnect, WhereToConnect } from "effect-tcp"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* Reconnect.connectWithRetry(
 *     WhereToConnect.file("/run/app.sock"),
 *     Schedule.exponential("50 millis").pipe(Schedule.upTo("10 seconds")),
 *     { timeout: "1 second" }
 *   )
 *   yield* conn.writer.writeLine("hello")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectWithRetry: <A extends Address, Out, R>(
  where: WhereToConnect<A>,
  schedule: Schedule.Schedule<Out, ConnectError, R>,
  options?: RetryOptions
) => Effect.Effect<Connection<A>, ConnectError | InvalidArgument, Scope.Scope | R> = internal.connectWithRetry

/**
 * One connection of a {@link Reconnecting} service and its generation: 1 for the first
 * connection, one more for each replacement.
 *
 * @since 0.1.0
 * @category models
 */
export interface Generation<A extends Address> {
  readonly connection: Connection<A>
  readonly generation: number
}

/**
 * Where a {@link Reconnecting} service is: dialing (`generation` is that of the last connection,
 * 0 before the first), connected, or given up after the schedule was done or a failure was not
 * transient (it dials again on `reconnect`).
 *
 * @since 0.1.0
 * @category models
 */
export type State<A extends Address> =
  | { readonly _tag: "Connecting"; readonly generation: number }
  | { readonly _tag: "Connected"; readonly connection: Connection<A>; readonly generation: number }
  | { readonly _tag: "Failed"; readonly error: ConnectError | InvalidArgument; readonly generation: number }

/**
 * A connection to one target, kept alive: when it drops (the peer ends or resets it, or
 * `reconnect` is called), a new one is dialed with the service's schedule and replaces it.
 *
 * A connection that dropped is half-closed at once (its reader keeps the bytes it had) and
 * released when its replacement is installed; one dropped by `reconnect` is released at once.
 * Work in progress on a replaced connection fails with its `ReadError` / `WriteError`: take the
 * connection again from `connection` (or follow `changes`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reconnecting<A extends Address> {
  /**
   * The current connection; while dialing, waits for the next one.
   *
   * Interruption: stops the wait only; the service goes on dialing.
   *
   * Fails with: the `ConnectError` (or `InvalidArgument`) of the last attempt, when the service
   * gave up.
   */
  readonly connection: Effect.Effect<Connection<A>, ConnectError | InvalidArgument>
  /** The current state, at once. */
  readonly state: Effect.Effect<State<A>>
  /** The current state, then every change; ends when the service is released. */
  readonly stateChanges: Stream.Stream<State<A>>
  /** The generation of the newest connection (1 for the first). */
  readonly generation: Effect.Effect<number>
  /**
   * The current connection, then each replacement, with its generation; ends when the service
   * gives up or is released.
   */
  readonly changes: Stream.Stream<Generation<A>>
  /**
   * Drops the current connection (released at once) and dials a new one; after the service gave
   * up, dials again. Does nothing while a dial is in progress. Returns at once: `connection`
   * waits for the new connection.
   */
  readonly reconnect: Effect.Effect<void>
}

/**
 * Dials `where` (with {@link connectWithRetry} and `schedule`) and keeps a connection to it
 * alive, re-dialing with a fresh run of `schedule` whenever it drops. Fails when the first
 * connection cannot be made. Closing the scope stops re-dialing and releases the connection.
 *
 * @example
 * ```ts
 * import { Effect, Schedule, Stream } from "effect"
 * import { Reconnect, WhereToConnect } from "effect-tcp"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const link = yield* Reconnect.make(WhereToConnect.hostAndPort("localhost", 7000), Schedule.spaced("1 second"))
 *   yield* Effect.forkScoped(Stream.runForEach(link.changes, ({ generation }) =>
 *     Effect.log(`connection #${generation}`)))
 *   const conn = yield* link.connection
 *   yield* conn.writer.writeLine("hello")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A extends Address, Out, R>(
  where: WhereToConnect<A>,
  schedule: Schedule.Schedule<Out, ConnectError, R>,
  options?: RetryOptions
) => Effect.Effect<Reconnecting<A>, ConnectError | InvalidArgument, Scope.Scope | R> = internal.make

/**
 * The tag of the {@link Reconnecting} service that {@link layer} provides: a kept-alive
 * connection. For a connection of a known address kind in your own service, use
 * `Layer.scoped(YourTag, Reconnect.make(...))`.
 *
 * @since 0.1.0
 * @category tags
 */
export const Reconnecting: Context.Tag<Reconnecting<Address>, Reconnecting<Address>> = internal.Reconnecting

/**
 * A Layer of {@link Reconnecting}: building it dials `where` (and fails when the first connection
 * cannot be made); while it lives, the connection is re-dialed when it drops; releasing it
 * closes the connection.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Reconnect, WhereToConnect } from "effect-tcp"
 *
 * const Upstream = Reconnect.layer(WhereToConnect.hostAndPort("localhost", 7000), Schedule.spaced("500 millis"))
 *
 * const send = (line: string) =>
 *   Effect.gen(function*() {
 *     const link = yield* Reconnect.Reconnecting
 *     const conn = yield* link.connection
 *     yield* conn.writer.writeLine(line)
 *   })
 *
 * const program = send("hello").pipe(Effect.provide(Upstream))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A extends Address, Out, R>(
  where: WhereToConnect<A>,
  schedule: Schedule.Schedule<Out, ConnectError, R>,
  options?: RetryOptions
): Layer.Layer<Reconnecting<Address>, ConnectError | InvalidArgument, R> =>
  Layer.scoped(Reconnecting, internal.make(where, schedule, options))
