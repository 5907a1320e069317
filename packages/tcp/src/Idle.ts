/**
 * Idle detection for a connection, as Netty's `IdleStateHandler`: run an effect (send a
 * heartbeat, close the connection) when nothing was read, or nothing written, or neither, for a
 * given time. Works on client and server connections alike.
 *
 * Activity is the reader's and writer's byte counters moving (`bytesRead`: bytes received from
 * the socket; `bytesWritten`: bytes handed to `write`), sampled every quarter of the shortest
 * period: an idle state is reported between its period and 1.25 times its period after the last
 * byte, then again after each further period while the connection stays idle. Nothing is added
 * to the byte path.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { BindToAddress, BindToPort, Idle, Server, WhereToListen } from "effect-tcp"
 *
 * // A line server that sends "ping" after 10 s without writing and drops a client silent for 30 s
 * const server = Server.make(
 *   WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
 *   (conn) =>
 *     Effect.gen(function*() {
 *       for (;;) {
 *         const line = yield* conn.reader.readLine
 *         if (Option.isNone(line)) return
 *         yield* conn.writer.writeLine(line.value)
 *       }
 *     }).pipe(Idle.during(conn, {
 *       writerIdle: "10 seconds",
 *       readerIdle: "30 seconds",
 *       onIdle: (state) =>
 *         Effect.gen(function*() {
 *           if (state === "WriterIdle") return yield* conn.writer.writeLine("ping")
 *           return yield* Effect.fail("client silent" as const)
 *         })
 *     }))
 * )
 * ```
 *
 * @since 0.2.0
 * @module
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/idle.js"
import type { Reader } from "./Reader.js"
import type { InvalidArgument } from "./TcpError.js"
import type { Writer } from "./Writer.js"

/**
 * Which silence was detected: nothing read (`"ReaderIdle"`), nothing written (`"WriterIdle"`),
 * or neither (`"AllIdle"`).
 *
 * @since 0.2.0
 * @category models
 */
export type IdleState = "ReaderIdle" | "WriterIdle" | "AllIdle"

/**
 * What idle detection watches: a connection's reader and writer (any `Connection`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Watched {
  readonly reader: Reader
  readonly writer: Writer
}

/**
 * The periods of silence to detect (at least one; each positive and finite) and the effect to
 * run for each.
 *
 * @since 0.2.0
 * @category models
 */
export interface IdleOptions<E, R> {
  /** Report `"ReaderIdle"` after this long without a byte received. */
  readonly readerIdle?: Duration.DurationInput | undefined
  /** Report `"WriterIdle"` after this long without a byte written. */
  readonly writerIdle?: Duration.DurationInput | undefined
  /** Report `"AllIdle"` after this long without a byte either way. */
  readonly allIdle?: Duration.DurationInput | undefined
  /** Runs for each idle state detected; the watch waits for it. A failure ends the watch. */
  readonly onIdle: (state: IdleState) => Effect.Effect<void, E, R>
}

/**
 * Watches `conn` until interrupted, running `onIdle` when a silence is detected. Never succeeds:
 * run it beside the handler (see {@link during}), or fork it into the connection's scope.
 *
 * Interruption: stops watching; an `onIdle` in progress is interrupted.
 *
 * Fails with: `onIdle`'s error, `InvalidArgument` for a missing or non-positive period, no
 * period at all, or an `onIdle` that is not a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Idle, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // A client that sends a heartbeat line after each second without writing
 * const client = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", 7000))
 *   yield* Effect.forkScoped(Idle.watch(conn, { writerIdle: "1 second", onIdle: () => conn.writer.writeLine("HEARTBEAT") }))
 *   yield* Effect.sleep("10 seconds")
 * }))
 * ```
 *
 * @since 0.2.0
 * @category watching
 */
export const watch: <E, R>(conn: Watched, options: IdleOptions<E, R>) => Effect.Effect<never, E | InvalidArgument, R> =
  internal.watch

/**
 * Runs `self` (a connection's handler) with idle detection on `conn`: the watch stops when `self`
 * ends; when `onIdle` fails, `self` is interrupted and its error is the result (to close an idle
 * connection, fail in `onIdle`).
 *
 * Interruption: interrupts both.
 *
 * Fails with: `self`'s error, `onIdle`'s error, `InvalidArgument` as {@link watch}.
 *
 * @example
 * ```ts
 * import { Data, Effect, Stream } from "effect"
 * import { Idle, Server, WhereToListen } from "effect-tcp"
 *
 * class IdleTimeout extends Data.TaggedError("IdleTimeout") {}
 *
 * // An echo server that closes a connection after 30 seconds without input
 * const server = Server.serve(WhereToListen.onPort(7000), (connection) =>
 *   connection.reader.lines.pipe(
 *     Stream.runForEach((line) => connection.writer.writeLine(line)),
 *     Idle.during(connection, { readerIdle: "30 seconds", onIdle: () => Effect.fail(new IdleTimeout()) })
 *   ))
 * ```
 *
 * @since 0.2.0
 * @category watching
 */
export const during: {
  <E, R>(
    conn: Watched,
    options: IdleOptions<E, R>
  ): <A, E1, R1>(self: Effect.Effect<A, E1, R1>) => Effect.Effect<A, E | E1 | InvalidArgument, R | R1>
  <A, E1, R1, E, R>(
    self: Effect.Effect<A, E1, R1>,
    conn: Watched,
    options: IdleOptions<E, R>
  ): Effect.Effect<A, E | E1 | InvalidArgument, R | R1>
} = internal.during
