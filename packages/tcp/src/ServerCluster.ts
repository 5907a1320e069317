/**
 * One `Server` on every core: N `node:cluster` worker processes serving one listening address
 * (a TCP port or a Unix socket path) with the same handler and the same options.
 *
 * The same program runs in the primary and in each worker (that is how `node:cluster` works:
 * the primary forks the program's own script). {@link layer} does the right thing in each:
 *
 * - **In the primary** it forks `workers` processes (default: `os.availableParallelism()`),
 *   waits until each listens, and supervises them. The primary owns the listening socket and
 *   hands each accepted connection to a worker, round-robin (Node's default on Linux). A worker
 *   that dies is replaced, at most `restart.limit` times in any `restart.window` (later
 *   replacements wait). `stats` asks every worker over the IPC channel for its counts
 *   (`numConnections`, `numWaiting`, and effect-tcp's server-side metrics) and sums them.
 * - **In a worker** it starts the `Server` (`Server.make` with the same `where`, handler and
 *   options) and answers the primary.
 *
 * **Limits are per worker.** `maxConnections`, `backlog` (the held connections) and every
 * other server option apply in each worker: N workers serve up to N × `maxConnections`
 * connections. The kernel listen backlog is the primary's.
 *
 * **Shutdown.** Releasing the Layer in the primary, or SIGTERM / SIGINT to the primary (unless
 * `handleSignals` is false), shuts the group down gracefully: every worker stops accepting at
 * once (the listening socket closes when the last one has; a Unix socket file is removed), its
 * running handlers get `shutdownGracePeriod` to finish and are then interrupted; then each
 * worker gets SIGTERM (and SIGKILL 5 seconds later if it is still there). After a signal, the
 * primary re-raises it once the group is down unless something else handles it (as
 * `NodeRuntime.runMain` does, which then releases the Layer). Workers ignore SIGINT while they
 * serve: Ctrl-C reaches every process of the terminal's group, and the primary coordinates. A
 * worker whose primary dies drains its connections the same way, then sends itself SIGTERM.
 *
 * **Unix sockets.** A Unix-socket server works as a TCP one does: the primary binds the path
 * (replacing a stale socket file; the first worker starts alone so that the others never race
 * for it) and passes connections to the workers. What does not carry over: a connection's
 * peer credentials or any per-socket option set on the listening socket by a worker (the
 * listening socket lives in the primary), and the socket file belongs to the primary, which
 * removes it when the group shuts down. An abstract socket name (starting with NUL) works too.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { ServerCluster, WhereToListen } from "effect-tcp"
 *
 * // An echo server on every core: run this file with node; the primary forks the workers.
 * const Echo = ServerCluster.layer(WhereToListen.onPort(7000), (conn) =>
 *   Effect.gen(function*() {
 *     const bytes = yield* conn.reader.readLine
 *     if (bytes._tag === "Some") yield* conn.writer.writeLine(`${process.pid}: ${bytes.value}`)
 *   }), { workers: 4, maxConnections: 2_000 })
 *
 * Effect.runFork(Layer.launch(Echo))
 * ```
 *
 * @since 0.2.0
 * @module
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Address } from "./Address.js"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/serverCluster.js"
import type { AddressOf, Server, ServerOptions } from "./Server.js"
import type { InvalidArgument, ListenError, ServerClusterError } from "./TcpError.js"
import type * as WhereToListen from "./WhereToListen.js"

/**
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Options of a group: every `Server` option (each applies **per worker**), and the group's own.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerClusterOptions<A extends Address = Address, E = unknown> extends ServerOptions<A, E> {
  /** Worker processes, at most 1,024. Defaults to `os.availableParallelism()`. */
  readonly workers?: number | undefined
  /**
   * Replacing workers that die: at most `limit` replacements (default 5) in any `window`
   * (default 1 minute); beyond that a replacement waits until the window allows it.
   */
  readonly restart?: {
    readonly limit?: number | undefined
    readonly window?: Duration.DurationInput | undefined
  } | undefined
  /** How long a worker may take to listen when the group starts. Defaults to 30 seconds. */
  readonly startTimeout?: Duration.DurationInput | undefined
  /** Whether SIGTERM and SIGINT in the primary shut the group down. Defaults to true. */
  readonly handleSignals?: boolean | undefined
}

/**
 * A worker's counts: its server's `numConnections` and `numWaiting`, and effect-tcp's
 * server-side metrics in that process (`Metrics.connectionsOpened`, `connectionsClosed`,
 * `bytesRead`, `bytesWritten` — bytes are added when a connection closes — and
 * `acceptsDropped`, both causes).
 *
 * @since 0.2.0
 * @category models
 */
export interface Counts {
  readonly numConnections: number
  readonly numWaiting: number
  readonly connectionsOpened: number
  readonly connectionsClosed: number
  readonly bytesRead: number
  readonly bytesWritten: number
  readonly acceptsDropped: number
}

/**
 * The counts of each worker that answered, and their sum.
 *
 * @since 0.2.0
 * @category models
 */
export interface Stats {
  readonly workers: ReadonlyArray<{ readonly id: number; readonly pid: number; readonly counts: Counts }>
  readonly total: Counts
}

/**
 * A worker of the group: its `node:cluster` id, its process id, and how many times its slot
 * was refilled after a worker died.
 *
 * @since 0.2.0
 * @category models
 */
export interface WorkerInfo {
  readonly id: number
  readonly pid: number
  readonly restarts: number
}

/**
 * The group, as seen from the primary (`role: "primary"`) or from a worker (`role: "worker"`,
 * where `server` is that worker's server and `stats` its own counts).
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerCluster {
  readonly [TypeId]: TypeId
  readonly role: "primary" | "worker"
  /** The port (also when the OS chose it) or the path the group listens on. */
  readonly listeningOn: number | string
  /** In a worker, its server; none in the primary. */
  readonly server: Option.Option<Server<Address, number | string, unknown>>
  /** The live workers (in a worker: itself). */
  readonly workers: Effect.Effect<ReadonlyArray<WorkerInfo>>
  /** Each worker's counts and their sum, asked over IPC (a worker that does not answer within 2 seconds is left out). */
  readonly stats: Effect.Effect<Stats>
  /** Connections being served, summed over the workers. */
  readonly numConnections: Effect.Effect<number>
  /** Shuts the group down gracefully now (in a worker: that worker's server); idempotent. Releasing the Layer does it too. */
  readonly shutdown: Effect.Effect<void>
  /** Completes once the group (in a worker: its server) has shut down. */
  readonly awaitShutdown: Effect.Effect<void>
}

/**
 * The group provided by {@link layer}.
 *
 * @since 0.2.0
 * @category tags
 */
export class ServerClusterTag extends Context.Tag("effect-tcp/ServerCluster")<ServerClusterTag, ServerCluster>() {}

/**
 * Starts the group in the current scope: in the primary, forks the workers and waits until
 * every one listens; in a worker, starts the server. Shuts down gracefully when the scope
 * closes (see the module's docs).
 *
 * Fails with: `InvalidArgument` (a bad `where`, `handler` or option, found in the primary before
 * any worker is forked),
 * `ListenError` (the first worker could not listen: address in use, permission denied, …),
 * `ServerClusterError` (`TcpError.ServerClusterError`: a worker exited or did not listen in time); every worker forked so far
 * is ended first.
 *
 * Interruption: interrupting the start ends the workers forked so far.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerCluster, WhereToListen } from "effect-tcp"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const group = yield* ServerCluster.make(WhereToListen.onPort(7000), (conn) => conn.writer.writeLine("hi"), { workers: 2 })
 *   if (group.role === "primary") {
 *     const stats = yield* group.stats
 *     yield* Effect.log(`${stats.workers.length} workers, ${stats.total.numConnections} connections`)
 *   }
 *   yield* group.awaitShutdown
 * }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServerClusterOptions<AddressOf<W>, NoInfer<E>>
) => Effect.Effect<
  ServerCluster,
  ListenError | InvalidArgument | ServerClusterError,
  Scope.Scope | Exclude<R, Scope.Scope>
> = internal.make

/**
 * {@link make} as a `Layer`: building it starts the group, releasing it shuts the group down
 * gracefully.
 *
 * Fails with: as {@link make}.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { ServerCluster, WhereToListen } from "effect-tcp"
 *
 * const Group = ServerCluster.layer(WhereToListen.onFile("/tmp/app.sock"), (conn) => conn.writer.writeLine("hi"))
 * Effect.runFork(Layer.launch(Group))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<AddressOf<W>>) => Effect.Effect<void, E, R>,
  options?: ServerClusterOptions<AddressOf<W>, NoInfer<E>>
): Layer.Layer<ServerClusterTag, ListenError | InvalidArgument | ServerClusterError, Exclude<R, Scope.Scope>> =>
  Layer.scoped(ServerClusterTag, make(where, handler, options))
