/**
 * The server: listening (with retries and stale Unix-socket replacement), admission of accepted
 * sockets (see `serverAdmission.ts`), one fiber per connection, and the close and shutdown
 * protocols.
 *
 * Accepting costs no fiber: the listener's `'connection'` callback decides synchronously, and a
 * connection that is served gets exactly one fiber, forked into a `FiberSet`. A fiber's observer
 * (not the fiber itself) does the final accounting, so a fiber that was interrupted before it ever
 * ran still closes its socket and frees its slot.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as net from "node:net"
import * as Address from "../Address.js"
import type * as BindToAddress from "../BindToAddress.js"
import type * as BindToPort from "../BindToPort.js"
import type * as Connection from "../Connection.js"
import type * as Server from "../Server.js"
import { type InvalidArgument, ListenError, type ListenErrorReason, ReadError, WriteError } from "../TcpError.js"
import * as WhereToListen from "../WhereToListen.js"
import { type Attached, attachNow, closeSocket, inetAddresses, makeTcpSocket, release } from "./connection.js"
import * as metrics from "./metrics.js"
import * as options from "./options.js"
import type { ReaderConfig } from "./reader.js"
import { Admission } from "./serverAdmission.js"
import type { WriterConfig } from "./writer.js"

/** The same symbol as `Server.TypeId` (`Symbol.for`), without a runtime import of `Server.ts`. */
const TypeId: Server.TypeId = Symbol.for("effect-tcp/Server") as Server.TypeId

/** The span around each connection. */
const connectionSpan = "effect-tcp.server.connection"

/**
 * Flattens a string in place (V8 flattens a cons string when converting it to a number). The
 * native tracer builds span ids one character at a time, a chain of dozens of cons strings that
 * the connection's span would hold for as long as the connection lives (~0.7 KB measured).
 */
const flatten = (text: string): void => {
  void ((text as unknown as number) | 0)
}

/** Async's defaults for `Tcp.Server.create`. */
const serverDefaults = {
  maxConnections: 10_000,
  backlog: 64,
  maxAcceptsPerBatch: 1,
  shutdownGracePeriod: Duration.seconds(10)
} as const

/** Descriptors kept free below the process limit, besides `backlog` held connections. */
const reservedDescriptors = 64
/** Attempts to bind an OS-chosen port that met "address in use". */
const portRetries = 8
/** Attempts to replace a stale Unix socket file. */
const staleRetries = 3
/** Bound on the connect that tells a stale Unix socket file from a live one. */
const probeTimeoutMillis = 1000
/** Largest delay `setTimeout` takes. */
const maxTimer = 2 ** 31 - 1

// -------------------------------------------------------------------------------------------------
// Configuration

type Plan =
  | { readonly _tag: "Inet"; readonly host: string | undefined; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

type Policy<E> =
  | { readonly _tag: "Log" }
  | { readonly _tag: "Ignore" }
  | { readonly _tag: "Raise" }
  | {
    readonly _tag: "Call"
    readonly f: (address: Address.Address, cause: Cause.Cause<E>) => Effect.Effect<void>
  }

interface Config<E> {
  readonly plan: Plan
  readonly target: string
  readonly maxConnections: number
  readonly backlog: number
  readonly maxAcceptsPerBatch: number
  readonly drop: boolean
  readonly policy: Policy<E>
  readonly shutdownGracePeriod: Duration.Duration
  /** Milliseconds, or `undefined` for none. */
  readonly idleTimeout: number | undefined
  readonly noDelay: boolean
  readonly keepAlive: options.KeepAlive
  readonly reader: ReaderConfig
  readonly writer: WriterConfig
}

const bindHost = (address: BindToAddress.BindToAddress | undefined): string | undefined => {
  switch (address?._tag) {
    case "AllAddresses":
      // No host: Node binds dual-stack `::` and falls back to `0.0.0.0` where IPv6 is off.
      return undefined
    case "Localhost":
      return "127.0.0.1"
    case "Address": {
      const ip: unknown = address.ip
      if (typeof ip !== "string" || net.isIP(ip) === 0) {
        return options.invalidArgument("address", `expected an IPv4 or IPv6 address, got ${String(ip)}`)
      }
      return ip
    }
    default:
      return options.invalidArgument("address", "expected a BindToAddress")
  }
}

const bindPort = (port: BindToPort.BindToPort | undefined): number => {
  switch (port?._tag) {
    case "OnPortChosenByOs":
      return 0
    case "OnPort":
      return options.checkPort("port", port.port)
    default:
      return options.invalidArgument("port", "expected a BindToPort")
  }
}

const plan = (where: WhereToListen.WhereToListen | undefined): Plan => {
  switch (where?._tag) {
    case "Inet":
      return { _tag: "Inet", host: bindHost(where.address), port: bindPort(where.port) }
    case "Unix":
      return { _tag: "Unix", path: options.checkUnixPath("path", where.path) }
    default:
      return options.invalidArgument("where", "expected a WhereToListen")
  }
}

const policy = <E>(input: unknown): Policy<E> => {
  if (input === undefined) return { _tag: "Log" }
  if (input === "ignore") return { _tag: "Ignore" }
  if (input === "raise") return { _tag: "Raise" }
  if (typeof input === "function") {
    return { _tag: "Call", f: input as (address: Address.Address, cause: Cause.Cause<E>) => Effect.Effect<void> }
  }
  return options.invalidArgument("onHandlerError", `expected "ignore", "raise" or a function, got ${String(input)}`)
}

/** The soft limit on open descriptors, from `/proc/self/limits` (Node has no getrlimit). */
export const descriptorLimit = (): number | undefined => {
  try {
    const match = /^Max open files\s+(\S+)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"))
    if (match === null) return undefined
    const limit = Number(match[1])
    return Number.isInteger(limit) && limit > 0 ? limit : undefined
  } catch {
    return undefined
  }
}

/** `maxConnections`, capped so that connections and held sockets stay below the descriptor limit. */
export const capMaxConnections = (requested: number, backlog: number, limit: number | undefined): number =>
  limit === undefined ? requested : Math.min(requested, Math.max(1, limit - backlog - reservedDescriptors))

/**
 * `options.checkDuration`, refusing negative and NaN numbers too (Effect's `Duration.decode`
 * clamps them to zero, which would turn a mistake into "no timeout").
 */
const checkDuration = (argument: string, input: unknown, fallback: Duration.Duration): number => {
  if (typeof input === "number" && !(input >= 0)) {
    return options.invalidArgument(argument, `expected a non-negative duration, got ${String(input)}`)
  }
  return options.checkDuration(argument, input, fallback)
}

const config = <E>(
  where: WhereToListen.WhereToListen,
  opts: Server.ServerOptions<Address.Address, E> | undefined
): Config<E> => {
  const bind = plan(where)
  const backlog = options.checkCount("backlog", opts?.backlog, serverDefaults.backlog)
  const idle = opts?.idleTimeout === undefined ? 0 : checkDuration("idleTimeout", opts.idleTimeout, Duration.zero)
  const grace = checkDuration("shutdownGracePeriod", opts?.shutdownGracePeriod, serverDefaults.shutdownGracePeriod)
  return {
    plan: bind,
    target: WhereToListen.format(where),
    maxConnections: capMaxConnections(
      options.checkSize("maxConnections", opts?.maxConnections, serverDefaults.maxConnections, true),
      backlog,
      descriptorLimit()
    ),
    backlog,
    maxAcceptsPerBatch: options.checkSize(
      "maxAcceptsPerBatch",
      opts?.maxAcceptsPerBatch,
      serverDefaults.maxAcceptsPerBatch
    ),
    drop: options.checkBoolean("dropIncomingConnections", opts?.dropIncomingConnections, false),
    policy: policy(opts?.onHandlerError),
    shutdownGracePeriod: grace === Infinity ? Duration.infinity : Duration.millis(grace),
    idleTimeout: idle === 0 || idle === Infinity ? undefined : Math.max(1, Math.min(idle, maxTimer)),
    noDelay: options.checkBoolean("noDelay", opts?.noDelay, true),
    keepAlive: typeof opts?.keepAlive === "number"
      ? options.checkKeepAlive(checkDuration("keepAlive", opts.keepAlive, Duration.zero))
      : options.checkKeepAlive(opts?.keepAlive),
    reader: options.readerConfig(opts),
    writer: options.writerConfig(opts)
  }
}

const validate = <A>(check: () => A): Effect.Effect<A, InvalidArgument> =>
  Effect.suspend(() => {
    const result = options.guard(check)
    return result._tag === "Ok" ? Effect.succeed(result.value) : Effect.fail(result.error)
  })

// -------------------------------------------------------------------------------------------------
// Listening

const noop = () => {}

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | undefined)?.code

/** @internal */
export const listenReason = (error: unknown): ListenErrorReason => {
  switch (codeOf(error)) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
      return "AddressNotAvailable"
    default:
      return "Unknown"
  }
}

interface Listeners {
  readonly onConnection: (socket: net.Socket) => void
  /** An error of the listener after it started listening (an accept error). */
  readonly onError: (error: Error) => void
}

/**
 * One bind-and-listen on a fresh `net.Server`. The server carries an `'error'` listener from its
 * creation to the end of its life. Interrupted while binding, it waits for the bind to settle
 * (Node resolves even an IP literal asynchronously, then binds) and closes what it opened.
 */
const bindOnce = (plan: Plan, backlog: number, listeners: Listeners): Effect.Effect<net.Server, unknown> =>
  Effect.async<net.Server, unknown>((resume) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, listeners.onConnection)
    let up = false
    server.on("error", (error) => {
      if (up) listeners.onError(error)
    })
    const settle = () => {
      server.off("error", failed)
      server.off("listening", listening)
    }
    const failed = (error: unknown) => {
      settle()
      resume(Effect.fail(error))
    }
    const listening = () => {
      settle()
      up = true
      resume(Effect.succeed(server))
    }
    server.once("error", failed)
    server.once("listening", listening)
    try {
      server.listen(
        plan._tag === "Unix"
          ? { path: plan.path, backlog }
          : plan.host === undefined
          ? { port: plan.port, backlog }
          : { host: plan.host, port: plan.port, backlog }
      )
    } catch (error) {
      settle()
      server.close()
      resume(Effect.fail(error))
      return
    }
    return Effect.async<void>((done) => {
      settle()
      server.once("listening", () => {
        server.close()
        done(Effect.void)
      })
      server.once("error", () => done(Effect.void))
    })
  })

/** Connects to a Unix socket: `true` when refused (nobody listens: the file is stale). */
const refusedAt = (path: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ path })
    socket.on("error", noop)
    const timer = setTimeout(() => finish(false), probeTimeoutMillis)
    const finish = (refused: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(refused))
    }
    socket.once("connect", () => finish(false))
    socket.once("error", (error) => finish(codeOf(error) === "ECONNREFUSED"))
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * After EADDRINUSE on a Unix path: removes the file if it is a socket nobody listens on.
 * `true` when binding is worth another try. A regular file is never removed.
 */
const removeIfStale = (path: string): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const stat = yield* Effect.promise(() =>
      fs.promises.lstat(path).then(
        (stat) => stat.isSocket() ? "socket" as const : "other" as const,
        (error) => codeOf(error) === "ENOENT" ? "gone" as const : "other" as const
      )
    )
    if (stat === "gone") return true
    if (stat === "other") return false
    if (!(yield* refusedAt(path))) return false
    return yield* Effect.promise(() => fs.promises.unlink(path).then(() => true, (error) => codeOf(error) === "ENOENT"))
  })

const listen = (cfg: Config<unknown>, listeners: Listeners): Effect.Effect<net.Server, ListenError> =>
  Effect.gen(function*() {
    const plan = cfg.plan
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.either(bindOnce(plan, cfg.backlog, listeners))
      if (Either.isRight(result)) return result.right
      const error = result.left
      if (codeOf(error) === "EADDRINUSE") {
        if (plan._tag === "Inet" && plan.port === 0 && attempt < portRetries) continue
        if (
          plan._tag === "Unix" && !plan.path.startsWith("\0") && attempt < staleRetries &&
          (yield* removeIfStale(plan.path))
        ) continue
      }
      return yield* Effect.fail(new ListenError({ reason: listenReason(error), target: cfg.target, cause: error }))
    }
  }).pipe(Effect.withSpan("effect-tcp.server.listen", {
    kind: "server",
    captureStackTrace: false,
    attributes: { "effect-tcp.listen": cfg.target }
  }))

// -------------------------------------------------------------------------------------------------
// Serving

interface Accepted<A extends Address.Address> {
  readonly socket: net.Socket
  readonly local: A
  readonly remote: A
}

/** A client that went away ends its connection normally: not a handler error. */
const isClientLeaving = (error: unknown): boolean =>
  (error instanceof WriteError && error.reason === "ConsumerLeft") ||
  (error instanceof ReadError && error.reason === "Reset")

/** @internal */
export const isNormalEnd = <E>(cause: Cause.Cause<E>): boolean =>
  Chunk.isEmpty(Cause.defects(cause)) && Chunk.every(Cause.failures(cause), isClientLeaving)

/** @internal */
export class ServerImpl<A extends Address.Address, L extends number | string, E, R> implements Server.Server<A, L, E> {
  readonly [TypeId]: Server.TypeId = TypeId
  listeningOn: L = undefined as unknown as L
  listeningOnAddress: A = undefined as unknown as A

  private listener: net.Server | undefined = undefined
  private raised: Cause.Cause<E> | undefined = undefined
  private readonly admission: Admission<Accepted<A>>
  private readonly closed = Deferred.unsafeMake<void>(FiberId.none)
  private readonly determined = Deferred.unsafeMake<void, E>(FiberId.none)
  private readonly unixLocal: A | undefined
  private readonly unixRemote = Address.unix("") as A

  constructor(
    private readonly cfg: Config<E>,
    private readonly handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
    private readonly fibers: FiberSet.FiberSet<void, never>,
    private readonly run: (
      effect: Effect.Effect<void, never, Exclude<R, Scope.Scope>>
    ) => Fiber.RuntimeFiber<void, never>
  ) {
    this.unixLocal = cfg.plan._tag === "Unix" ? Address.unix(cfg.plan.path) as A : undefined
    this.admission = new Admission<Accepted<A>>({
      maxConnections: cfg.maxConnections,
      backlog: cfg.backlog,
      maxAcceptsPerBatch: cfg.maxAcceptsPerBatch,
      drop: cfg.drop,
      start: (item) => this.start(item),
      reject: (item, why) => {
        if (why !== "closed") metrics.acceptDropped(why)
        item.socket.destroy()
      },
      usable: (item) => !item.socket.destroyed,
      schedule: (f) => setImmediate(f)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Accepting

  readonly listeners: Listeners = {
    onConnection: (socket) => {
      // A held or turned-away socket has no reader yet: an error on it must not crash the process.
      socket.on("error", noop)
      if (this.admission.closed || this.admission.drop) {
        return this.admission.offer({ socket, local: this.unixRemote, remote: this.unixRemote })
      }
      if (this.unixLocal !== undefined) {
        return this.admission.offer({ socket, local: this.unixLocal, remote: this.unixRemote })
      }
      // Read the addresses now (Node caches them): a held socket's peer may be gone when it is served.
      const addresses = inetAddresses(socket)
      this.admission.offer({ socket, local: addresses.local as A, remote: addresses.remote as A })
    },
    onError: (error) => {
      this.run(
        Effect.logWarning("effect-tcp: accept failed", error).pipe(
          Effect.annotateLogs({ "effect-tcp.listen": this.cfg.target })
        )
      )
    }
  }

  /** The listener is up: record where it listens. */
  listening(listener: net.Server): void {
    this.listener = listener
    const plan = this.cfg.plan
    if (plan._tag === "Unix") {
      this.listeningOn = plan.path as L
      this.listeningOnAddress = this.unixLocal as A
    } else {
      const info = listener.address() as net.AddressInfo
      this.listeningOn = info.port as L
      this.listeningOnAddress = Address.inet(info.address, info.port) as A
    }
  }

  private start(item: Accepted<A>): void {
    const socket = item.socket
    if (this.unixLocal === undefined) {
      if (this.cfg.noDelay) socket.setNoDelay(true)
      if (this.cfg.keepAlive.enabled) socket.setKeepAlive(true, this.cfg.keepAlive.initialDelay)
    }
    const fiber = this.run(this.serve(item))
    if (this.cfg.idleTimeout !== undefined) {
      socket.setTimeout(this.cfg.idleTimeout, () => fiber.unsafeInterruptAsFork(FiberId.none))
    }
    fiber.addObserver(() => {
      if (socket.closed) return this.released()
      socket.once("close", this.released)
      socket.destroy()
    })
  }

  /** A connection's socket is closed: its slot is free. */
  private readonly released = (): void => {
    this.admission.release()
    this.checkDetermined()
  }

  /**
   * One connection, in its own fiber: the handler under its own scope, then the verdict.
   *
   * Built flat rather than with `Effect.scoped`, `addFinalizer` and `withSpan`, for what it costs
   * per connection, with the same order: the span opens first; the handler runs (interruptibly)
   * with its own scope and the span as parent; then, uninterruptibly, the handler's scope is
   * closed with its exit, the writer is closed (flushing) and the reader, the socket is
   * destroyed and its descriptor closed, the span ends with the handler's exit (and any
   * finalizer's failure), and the verdict is reported.
   */
  private serve(item: Accepted<A>): Effect.Effect<void, never, Exclude<R, Scope.Scope>> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.makeSpan(connectionSpan, this.spanOptions(item)),
        (span) =>
          Effect.flatMap(Scope.make(), (scope) => {
            flatten(span.traceId)
            flatten(span.spanId)
            const attached = attachNow(
              makeTcpSocket(item.socket, item.local, item.remote),
              this.cfg.reader,
              this.cfg.writer,
              "server"
            )
            const handler = Effect.suspend(() => this.handler(attached)) as Effect.Effect<
              void,
              E,
              Exclude<R, Scope.Scope>
            >
            return Effect.flatMap(
              Effect.exit(restore(Effect.mapInputContext(
                handler,
                (context: Context.Context<Exclude<R, Scope.Scope>>) =>
                  Context.add(Context.add(context, Scope.Scope, scope), Tracer.ParentSpan, span)
              ))),
              (exit) => this.finish(item, span, scope, attached, exit, restore)
            )
          })
      )
    )
  }

  private spanOptions(item: Accepted<A>): Tracer.SpanOptions {
    return {
      kind: "server",
      captureStackTrace: false,
      attributes: { "effect-tcp.remote": Address.format(item.remote), "effect-tcp.local": Address.format(item.local) }
    }
  }

  /** After the handler: release in order, end the span, report. */
  private finish(
    item: Accepted<A>,
    span: Tracer.Span,
    scope: Scope.CloseableScope,
    attached: Attached<A>,
    exit: Exit.Exit<void, E>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<void> {
    return Effect.flatMap(
      Effect.exit(Scope.close(scope, exit)),
      (closed) =>
        Effect.flatMap(
          release(attached as Attached<Address.Address>),
          () =>
            Effect.flatMap(closeSocket(item.socket), () =>
              Effect.withFiberRuntime<void>((fiber) => {
                const result: Exit.Exit<void, E> = closed._tag === "Success"
                  ? exit
                  : exit._tag === "Failure"
                  ? Exit.failCause(Cause.sequential(exit.cause, closed.cause))
                  : closed
                if (span.status._tag !== "Ended") {
                  // As `Effect.withSpan` ends its span: the Clock's time, or 0 when tracer timing is off.
                  const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
                  span.end(
                    timing ? Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeNanos() : 0n,
                    result
                  )
                }
                return result._tag === "Success" ? Effect.void : restore(this.report(item.remote, result.cause))
              }))
        )
    )
  }

  private report(remote: A, cause: Cause.Cause<E>): Effect.Effect<void> {
    if (isNormalEnd(cause)) return Effect.void
    const policy = this.cfg.policy
    switch (policy._tag) {
      case "Ignore":
        return Effect.void
      case "Log":
        return Effect.logError("effect-tcp: connection handler failed", cause).pipe(
          Effect.annotateLogs({ "effect-tcp.remote": Address.format(remote), "effect-tcp.listen": this.cfg.target })
        )
      case "Raise":
        return Effect.sync(() => this.raise(cause))
      case "Call":
        return Effect.suspend(() => policy.f(remote, cause)).pipe(
          Effect.catchAllCause((failure) =>
            Cause.isInterruptedOnly(failure)
              ? Effect.void
              : Effect.logError("effect-tcp: onHandlerError failed", failure)
          )
        )
    }
  }

  private raise(cause: Cause.Cause<E>): void {
    if (this.raised === undefined) this.raised = cause
    this.closeNow(true, FiberId.none)
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  private closeNow(closeExisting: boolean, by: FiberId.FiberId): void {
    if (!this.admission.closed) {
      this.admission.close()
      // Closes the listening descriptor at once (and unlinks a Unix socket file); Node's 'close'
      // event would wait for every connection, so it is not what `closeFinished` waits for.
      this.listener?.close()
      Deferred.unsafeDone(this.closed, Exit.void)
    }
    if (closeExisting) {
      for (const fiber of this.fibers) fiber.unsafeInterruptAsFork(by)
    }
    this.checkDetermined()
  }

  private checkDetermined(): void {
    if (this.admission.closed && this.admission.live === 0) {
      Deferred.unsafeDone(this.determined, this.raised === undefined ? Exit.void : Exit.failCause(this.raised))
    }
  }

  /** Releasing the server's scope: stop accepting, a grace period for the handlers, then interrupt them. */
  readonly shutdown: Effect.Effect<void> = Effect.gen(this, function*() {
    this.closeNow(false, FiberId.none)
    const finished = Effect.exit(Deferred.await(this.determined))
    if (Option.isSome(yield* Effect.timeoutOption(Effect.interruptible(finished), this.cfg.shutdownGracePeriod))) return
    const id = yield* Effect.fiberId
    this.closeNow(true, id)
    yield* finished
  })

  // ---------------------------------------------------------------------------------------------
  // The public surface

  readonly numConnections: Effect.Effect<number> = Effect.sync(() => this.admission.live)

  readonly numWaiting: Effect.Effect<number> = Effect.sync(() => this.admission.waiting)

  setDropIncomingConnections(drop: boolean): Effect.Effect<void> {
    return Effect.sync(() => {
      this.admission.drop = drop
    })
  }

  close(options?: Server.CloseOptions): Effect.Effect<void> {
    return Effect.fiberIdWith((id) => Effect.sync(() => this.closeNow(options?.closeExistingConnections === true, id)))
  }

  readonly closeFinished: Effect.Effect<void> = Deferred.await(this.closed)

  readonly closeFinishedAndHandlersDetermined: Effect.Effect<void, E> = Deferred.await(this.determined)

  readonly isClosed: Effect.Effect<boolean> = Effect.sync(() => this.admission.closed)

  toString(): string {
    return `Server(${
      this.listeningOnAddress === undefined ? this.cfg.target : Address.format(this.listeningOnAddress)
    })`
  }

  toJSON(): unknown {
    return { _id: "effect-tcp/Server", listeningOn: this.listeningOn, target: this.cfg.target }
  }
}

/** @internal */
export const make = <A extends Address.Address, L extends number | string, E, R>(
  where: WhereToListen.WhereToListen,
  handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
  opts?: Server.ServerOptions<A, E>
): Effect.Effect<Server.Server<A, L, E>, ListenError | InvalidArgument, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.flatMap(
    validate(() => config<E>(where, opts as Server.ServerOptions<Address.Address, E> | undefined)),
    (cfg) =>
      Effect.gen(function*() {
        const scope = yield* Effect.scope
        const fibers = yield* FiberSet.make<void, never>()
        const run = yield* FiberSet.runtime(fibers)<Exclude<R, Scope.Scope>>()
        const server = new ServerImpl<A, L, E, R>(cfg, handler, fibers, run)
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(listen(cfg as Config<unknown>, server.listeners)), (listener) => {
            server.listening(listener)
            return Scope.addFinalizer(scope, server.shutdown)
          })
        )
        return server
      })
  )

/** @internal */
export const serve = <A extends Address.Address, L extends number | string, E, R>(
  where: WhereToListen.WhereToListen,
  handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
  opts?: Server.ServerOptions<A, E> & {
    readonly onListening?: ((server: Server.Server<A, L, E>) => Effect.Effect<void>) | undefined
  }
): Effect.Effect<never, E | ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.gen(function*() {
      const server = yield* make<A, L, E, R>(where, handler, opts)
      if (opts?.onListening !== undefined) yield* opts.onListening(server)
      yield* server.closeFinishedAndHandlersDetermined
      return yield* Effect.never
    })
  )
