/**
 * One `Server` on N `node:cluster` workers. The same program runs in the primary and in every
 * worker: in the primary the Layer forks and supervises the workers; in a worker it starts the
 * server and answers the primary over the IPC channel (stats, shutdown).
 *
 * Listening is shared by `node:cluster`: the primary owns the listening socket (TCP or Unix) and
 * hands accepted connections to the workers round-robin (Node's default scheduling on Linux).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { constVoid } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import cluster from "node:cluster"
import type { Worker } from "node:cluster"
import * as os from "node:os"
import type { Address } from "../Address.js"
import type { Connection } from "../Connection.js"
import type * as Server from "../Server.js"
import type * as ServerCluster from "../ServerCluster.js"
import { InvalidArgument, ListenError, type ListenErrorReason, ServerClusterError } from "../TcpError.js"
import * as WhereToListen from "../WhereToListen.js"
import * as defaults from "./defaults.js"
import * as metrics from "./metrics.js"
import * as internalServer from "./server.js"
import { serverConfig } from "./serverConfig.js"
import { removeIfStale } from "./serverListen.js"
import * as validation from "./validate.js"

/** The key of every IPC message of this module, so that other messages on the channel are left alone. */
const key = "effect-tcp/ServerCluster"

/** The same symbol as `ServerCluster.TypeId`, without a runtime import of the public module. */
export const TypeId: ServerCluster.TypeId = Symbol.for("effect-tcp/ServerCluster") as ServerCluster.TypeId

/** What a worker's `ServerClusterError` / start failure looks like on the wire. */
type WireError =
  | {
    readonly _tag: "ListenError"
    readonly reason: ListenErrorReason
    readonly target: string
    readonly message: string
  }
  | { readonly _tag: "InvalidArgument"; readonly argument: string; readonly message: string }
  | { readonly _tag: "Other"; readonly message: string }

type ToPrimary =
  | { readonly [key]: "listening"; readonly listeningOn: number | string }
  | { readonly [key]: "failed"; readonly error: WireError }
  | { readonly [key]: "stats"; readonly id: number; readonly stats: ServerCluster.Counts }
  | { readonly [key]: "stopped" }

type ToWorker =
  | { readonly [key]: "stats"; readonly id: number }
  | { readonly [key]: "shutdown" }

const isMessage = <M extends { readonly [key]: string }>(message: unknown): message is M =>
  typeof message === "object" && message !== null && typeof (message as Record<string, unknown>)[key] === "string"

// -------------------------------------------------------------------------------------------------
// Options

interface Config {
  readonly workers: number
  readonly restartLimit: number
  readonly restartWindowMillis: number
  readonly startTimeoutMillis: number
  readonly graceMillis: number
  readonly handleSignals: boolean
}

const config = (opts: ServerCluster.ServerClusterOptions<Address, unknown> | undefined): Config => {
  validation.checkOptions("options", opts)
  const restart = opts?.restart
  if (restart !== undefined && (typeof restart !== "object" || restart === null)) {
    validation.invalidArgument("restart", "expected { limit?, window? }")
  }
  const window = validation.checkDuration("restart.window", restart?.window, defaults.clusterRestartWindow)
  const workers = validation.checkSize("workers", opts?.workers, os.availableParallelism())
  if (workers > defaults.clusterMaxWorkers) {
    validation.invalidArgument("workers", `expected at most ${defaults.clusterMaxWorkers}, got ${workers}`)
  }
  return {
    workers,
    restartLimit: restart?.limit === undefined
      ? defaults.clusterRestartLimit
      : validation.checkCount("restart.limit", restart.limit, 0),
    restartWindowMillis: window === Infinity
      ? validation.invalidArgument("restart.window", "expected a finite duration")
      : window,
    startTimeoutMillis: validation.checkDuration("startTimeout", opts?.startTimeout, defaults.clusterStartTimeout),
    graceMillis: validation.checkDuration(
      "shutdownGracePeriod",
      opts?.shutdownGracePeriod,
      defaults.shutdownGracePeriod
    ),
    handleSignals: validation.checkBoolean("handleSignals", opts?.handleSignals, true)
  }
}

/** The server's own options, without those of the group. */
const serverOptions = <A extends Address, E>(
  opts: ServerCluster.ServerClusterOptions<A, E> | undefined
): Server.ServerOptions<A, E> | undefined => {
  if (opts === undefined) return undefined
  const { handleSignals: _s, restart: _r, startTimeout: _t, workers: _w, ...rest } = opts
  return rest
}

// -------------------------------------------------------------------------------------------------
// Counts

const zeroCounts: ServerCluster.Counts = {
  numConnections: 0,
  numWaiting: 0,
  connectionsOpened: 0,
  connectionsClosed: 0,
  bytesRead: 0,
  bytesWritten: 0,
  acceptsDropped: 0
}

const serverSide = <T extends Metric.Metric<any, any, any>>(metric: T): T =>
  Metric.tagged(metric, "side", "server") as T

const counter = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

/** This process's counts: its server's, and effect-tcp's server-side metrics. */
const countsOf = (server: Server.Server<any, any, any>): Effect.Effect<ServerCluster.Counts> =>
  Effect.all({
    numConnections: server.numConnections,
    numWaiting: server.numWaiting,
    connectionsOpened: counter(serverSide(metrics.connectionsOpened)),
    connectionsClosed: counter(serverSide(metrics.connectionsClosed)),
    bytesRead: counter(serverSide(metrics.bytesRead)),
    bytesWritten: counter(serverSide(metrics.bytesWritten)),
    acceptsDropped: Effect.zipWith(
      counter(Metric.tagged(metrics.acceptsDropped, "cause", "drop")),
      counter(Metric.tagged(metrics.acceptsDropped, "cause", "overflow")),
      (a, b) => a + b
    )
  })

/** @internal */
export const sumCounts = (all: ReadonlyArray<ServerCluster.Counts>): ServerCluster.Counts => {
  const total: Record<keyof ServerCluster.Counts, number> = { ...zeroCounts }
  for (const counts of all) {
    for (const name of Object.keys(total) as Array<keyof ServerCluster.Counts>) total[name] += counts[name]
  }
  return total
}

// -------------------------------------------------------------------------------------------------
// Worker

const toWire = (error: unknown): WireError =>
  error instanceof ListenError
    ? { _tag: "ListenError", reason: error.reason, target: error.target, message: error.message }
    : error instanceof InvalidArgument
    ? { _tag: "InvalidArgument", argument: error.argument, message: error.message }
    : { _tag: "Other", message: String(error) }

const send = (message: ToPrimary): void => {
  if (process.connected) process.send?.(message, undefined, undefined, () => {})
}

const worker = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<Server.AddressOf<W>>) => Effect.Effect<void, E, R>,
  opts: ServerCluster.ServerClusterOptions<Server.AddressOf<W>, E> | undefined
): Effect.Effect<ServerCluster.ServerCluster, ListenError | InvalidArgument, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    // The server lives in a scope of its own, which the primary's "shutdown" closes (graceful close).
    const serverScope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    const server = yield* Scope.extend(
      internalServer.make<Server.AddressOf<W>, Server.ListeningOn<W>, E, R>(where, handler, serverOptions(opts)),
      serverScope
    ).pipe(Effect.tapError((error) => Effect.sync(() => send({ [key]: "failed", error: toWire(error) }))))
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const stop = Effect.zipRight(Scope.close(serverScope, Exit.void), Effect.sync(() => send({ [key]: "stopped" })))

    const onMessage = (message: unknown) => {
      if (!isMessage<ToWorker>(message)) return
      if (message[key] === "stats") {
        runFork(
          Effect.flatMap(
            countsOf(server),
            (stats) => Effect.sync(() => send({ [key]: "stats", id: message.id, stats }))
          )
        )
      } else if (message[key] === "shutdown") {
        runFork(stop)
      }
    }
    // The primary is gone: drain, then end this process the way a SIGTERM does (finalizers run under
    // NodeRuntime.runMain; without it, a drained worker has nothing left to lose).
    const onDisconnect = () => {
      runFork(
        Effect.zipRight(Scope.close(serverScope, Exit.void), Effect.sync(() => process.kill(process.pid, "SIGTERM")))
      )
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("message", onMessage)
        process.on("disconnect", onDisconnect)
        // Ctrl-C reaches every process of the terminal's group; the primary coordinates the shutdown.
        process.on("SIGINT", constVoid)
      }),
      () =>
        Effect.sync(() => {
          process.off("message", onMessage)
          process.off("disconnect", onDisconnect)
          process.off("SIGINT", constVoid)
        })
    )
    send({ [key]: "listening", listeningOn: server.listeningOn })

    const service: ServerCluster.ServerCluster = {
      [TypeId]: TypeId,
      role: "worker",
      listeningOn: server.listeningOn,
      server: Option.some(server as Server.Server<Address, number | string, unknown>),
      workers: Effect.sync(() => [{ id: cluster.worker?.id ?? 0, pid: process.pid, restarts: 0 }]),
      stats: Effect.map(countsOf(server), (counts) => ({
        workers: [{ id: cluster.worker?.id ?? 0, pid: process.pid, counts }],
        total: counts
      })),
      numConnections: server.numConnections,
      shutdown: Scope.close(serverScope, Exit.void),
      awaitShutdown: server.closeFinishedAndHandlersDetermined.pipe(Effect.ignore)
    }
    return service
  })

// -------------------------------------------------------------------------------------------------
// Primary

interface Member {
  readonly slot: number
  /** Set once the worker listens. */
  ready: boolean
  readonly worker: Worker
  readonly listening: Deferred.Deferred<number | string, ListenError | InvalidArgument | ServerClusterError>
  readonly stopped: Deferred.Deferred<void>
  readonly exited: Deferred.Deferred<void>
}

const fromWire = (error: WireError, where: string): ListenError | InvalidArgument | ServerClusterError =>
  error._tag === "ListenError"
    ? new ListenError({ reason: error.reason, target: error.target, cause: error.message })
    : error._tag === "InvalidArgument"
    ? new InvalidArgument({ argument: error.argument, message: error.message })
    : new ServerClusterError({ reason: "WorkerFailed", message: `a worker failed to serve ${where}: ${error.message}` })

const primary = (
  target: string,
  unixPath: string | undefined,
  cfg: Config
): Effect.Effect<ServerCluster.ServerCluster, ListenError | InvalidArgument | ServerClusterError, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const members = new Map<number, Member>()
    const restartTimes: Array<number> = []
    const restartCounts = new Map<number, number>()
    const timers = new Set<ReturnType<typeof setTimeout>>()
    const stopping = yield* Deferred.make<void>()
    let shuttingDown = false
    let listeningOn: number | string = 0
    let nextRequest = 0
    const pendingStats = new Map<number, (counts: ServerCluster.Counts) => void>()

    const fork = (slot: number): Member => {
      const w = cluster.fork({ EFFECT_TCP_WORKER_SLOT: String(slot) })
      const member: Member = {
        slot,
        ready: false,
        worker: w,
        listening: Deferred.unsafeMake(w.id as never),
        stopped: Deferred.unsafeMake(w.id as never),
        exited: Deferred.unsafeMake(w.id as never)
      }
      members.set(w.id, member)
      w.on("message", (message: unknown) => {
        if (!isMessage<ToPrimary>(message)) return
        switch (message[key]) {
          case "listening":
            member.ready = true
            Deferred.unsafeDone(member.listening, Exit.succeed(message.listeningOn))
            break
          case "failed":
            Deferred.unsafeDone(member.listening, Exit.fail(fromWire(message.error, target)))
            break
          case "stats":
            pendingStats.get(message.id)?.(message.stats)
            break
          case "stopped":
            Deferred.unsafeDone(member.stopped, Exit.void)
            break
        }
      })
      w.on("error", constVoid)
      w.on("exit", (code, signal) => {
        members.delete(w.id)
        const why = signal !== null ? `signal ${signal}` : `code ${code}`
        Deferred.unsafeDone(
          member.listening,
          Exit.fail(
            new ServerClusterError({
              reason: "WorkerExited",
              message: `worker ${w.process.pid} exited (${why}) before listening on ${target}`
            })
          )
        )
        Deferred.unsafeDone(member.stopped, Exit.void)
        Deferred.unsafeDone(member.exited, Exit.void)
        if (!shuttingDown) replace(slot, w.process.pid, why)
      })
      return member
    }

    /** A worker died: fork its successor, at most `restartLimit` times in any `restartWindow`. */
    const replace = (slot: number, pid: number | undefined, why: string): void => {
      const now = Date.now()
      while (restartTimes.length > 0 && restartTimes[0]! <= now - cfg.restartWindowMillis) restartTimes.shift()
      const delay = restartTimes.length < cfg.restartLimit
        ? 0
        : restartTimes[restartTimes.length - cfg.restartLimit]! + cfg.restartWindowMillis - now
      restartTimes.push(now + delay)
      runFork(
        Effect.logWarning(
          `effect-tcp: worker ${pid} exited (${why}); replacing it${delay > 0 ? ` in ${delay} ms (restart limit)` : ""}`
        ).pipe(
          Effect.annotateLogs({ "effect-tcp.listen": target })
        )
      )
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (shuttingDown) return
        restartCounts.set(slot, (restartCounts.get(slot) ?? 0) + 1)
        fork(slot)
      }, delay)
      timers.add(timer)
    }

    const kill = (member: Member, signal: NodeJS.Signals) => {
      try {
        if (signal === "SIGKILL") member.worker.process.kill(signal)
        else member.worker.kill(signal)
      } catch {
        // already gone
      }
    }

    /** Stop accepting everywhere, give the handlers the grace period, interrupt them, end the workers. */
    const shutdown: Effect.Effect<void> = Effect.suspend(() => {
      if (shuttingDown) return Deferred.await(stopping)
      shuttingDown = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      const all = [...members.values()]
      for (const member of all) {
        if (member.ready && member.worker.isConnected()) {
          member.worker.send({ [key]: "shutdown" } satisfies ToWorker, undefined, constVoid)
        }
      }
      // A worker that never listened has nothing to drain.
      const ends = Effect.forEach(all, (member) =>
        (member.ready ? Deferred.await(member.stopped) : Effect.void).pipe(
          Effect.timeoutOption(Duration.millis(cfg.graceMillis + Duration.toMillis(defaults.clusterKillAfter))),
          Effect.zipRight(Effect.sync(() => kill(member, "SIGTERM"))),
          Effect.zipRight(Deferred.await(member.exited).pipe(Effect.timeoutOption(defaults.clusterKillAfter))),
          Effect.zipRight(Effect.sync(() => kill(member, "SIGKILL"))),
          Effect.zipRight(Deferred.await(member.exited))
        ), { concurrency: "unbounded", discard: true })
      return Effect.zipRight(ends, Deferred.succeed(stopping, undefined)).pipe(Effect.uninterruptible)
    })

    // Registered before the first fork, so that an interrupted start still ends every worker.
    yield* Effect.addFinalizer(() => shutdown)

    const start = (member: Member) =>
      Deferred.await(member.listening).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(cfg.startTimeoutMillis),
          onTimeout: () =>
            new ServerClusterError({
              reason: "StartTimeout",
              message: `a worker did not listen on ${target} within ${cfg.startTimeoutMillis} ms`
            })
        })
      )
    // A stale socket file is replaced here, before any worker binds: a worker that retried its
    // bind would no longer share the primary's listener with the others (node:cluster keys a
    // shared listener by the worker's count of listen calls).
    if (unixPath !== undefined && !unixPath.startsWith("\0")) yield* removeIfStale(unixPath)
    // The first worker alone: it makes the primary bind (and replaces a stale Unix socket file)
    // before the others share the listener, so that they never race each other for the address.
    listeningOn = yield* start(fork(1))
    yield* Effect.forEach(Array.from({ length: cfg.workers - 1 }, (_, i) => fork(i + 2)), start, {
      concurrency: "unbounded",
      discard: true
    })

    if (cfg.handleSignals) {
      const onSignal = (signal: NodeJS.Signals) => {
        runFork(Effect.zipRight(
          shutdown,
          Effect.sync(() => {
            // Nobody else handles it (NodeRuntime.runMain would): do what the signal would have done.
            process.off(signal, onSignal)
            if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
          })
        ))
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.on("SIGINT", onSignal)
          process.on("SIGTERM", onSignal)
        }),
        () =>
          Effect.sync(() => {
            process.off("SIGINT", onSignal)
            process.off("SIGTERM", onSignal)
          })
      )
    }

    const ask = (member: Member, id: number): Effect.Effect<Option.Option<ServerCluster.Counts>> =>
      Effect.async<Option.Option<ServerCluster.Counts>>((resume) => {
        pendingStats.set(id, (counts) => resume(Effect.succeedSome(counts)))
        const timer = setTimeout(() => resume(Effect.succeedNone), Duration.toMillis(defaults.clusterStatsTimeout))
        if (!member.worker.isConnected()) resume(Effect.succeedNone)
        else member.worker.send({ [key]: "stats", id } satisfies ToWorker, undefined, constVoid)
        return Effect.sync(() => clearTimeout(timer))
      }).pipe(Effect.ensuring(Effect.sync(() => pendingStats.delete(id))))

    const ready = () => [...members.values()].filter((member) => member.ready)
    const stats: Effect.Effect<ServerCluster.Stats> = Effect.suspend(() =>
      Effect.forEach(ready(), (member) =>
        Effect.map(
          ask(member, nextRequest++),
          Option.map((counts) => ({
            id: member.worker.id,
            pid: member.worker.process.pid ?? 0,
            counts
          }))
        ), { concurrency: "unbounded" })
    ).pipe(
      Effect.map((answers) => {
        const workers = answers.flatMap((answer) => Option.isSome(answer) ? [answer.value] : [])
        return { workers, total: sumCounts(workers.map((w) => w.counts)) }
      })
    )

    const service: ServerCluster.ServerCluster = {
      [TypeId]: TypeId,
      role: "primary",
      listeningOn,
      server: Option.none(),
      workers: Effect.sync(() =>
        ready().map((member) => ({
          id: member.worker.id,
          pid: member.worker.process.pid ?? 0,
          restarts: restartCounts.get(member.slot) ?? 0
        }))
      ),
      stats,
      numConnections: Effect.map(stats, (s) => s.total.numConnections),
      shutdown,
      awaitShutdown: Deferred.await(stopping)
    }
    return service
  })

/** @internal */
export const make = <W extends WhereToListen.WhereToListen, E, R>(
  where: W,
  handler: (connection: Connection<Server.AddressOf<W>>) => Effect.Effect<void, E, R>,
  opts?: ServerCluster.ServerClusterOptions<Server.AddressOf<W>, E>
): Effect.Effect<
  ServerCluster.ServerCluster,
  ListenError | InvalidArgument | ServerClusterError,
  Scope.Scope | Exclude<R, Scope.Scope>
> =>
  Effect.flatMap(
    validation.validate(() => config(opts as ServerCluster.ServerClusterOptions<Address, unknown> | undefined)),
    (cfg) =>
      cluster.isWorker
        ? worker(where, handler, opts)
        : Effect.flatMap(
          // Everything a worker would check, checked here before any worker is forked.
          validation.validate(() => {
            if (typeof handler !== "function") {
              validation.invalidArgument("handler", `expected a function, got ${validation.show(handler)}`)
            }
            serverConfig(where, serverOptions(opts as ServerCluster.ServerClusterOptions<Address, E> | undefined))
            return [
              WhereToListen.format(where),
              where._tag === "Unix" ? validation.checkUnixPath("path", where.path) : undefined
            ] as const
          }),
          ([target, unixPath]) => primary(target, unixPath, cfg)
        )
  )
