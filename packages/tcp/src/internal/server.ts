/**
 * Serving: admission of accepted sockets (see `serverAdmission.ts`), one fiber per connection,
 * and the close and shutdown protocols. The configuration is checked in `serverConfig.ts`; the
 * listener is bound in `serverListen.ts`.
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
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import { constVoid } from "effect/Function"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type * as net from "node:net"
import * as Address from "../Address.js"
import type * as Connection from "../Connection.js"
import type * as Server from "../Server.js"
import { type InvalidArgument, type ListenError, ReadError, WriteError } from "../TcpError.js"
import type * as WhereToListen from "../WhereToListen.js"
import { type Attached, attachUnscoped, closeSocket, release, releaseThen, TcpSocketImpl } from "./connection.js"
import * as metrics from "./metrics.js"
import { applySocketOptions } from "./options.js"
import { HandOffScheduler } from "./reader.js"
import { Admission } from "./serverAdmission.js"
import { type ServerConfig, serverConfig } from "./serverConfig.js"
import { listen, type Listeners, removeOwnSocketFile } from "./serverListen.js"
import { TlsAcceptor } from "./tls.js"
import { recordsSpans } from "./tracing.js"
import { invalidArgument, show, validate } from "./validate.js"

/** `Server.TypeId`. */
export const TypeId: Server.TypeId = Symbol.for("effect-tcp/Server") as Server.TypeId

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

interface Accepted<A extends Address.Address> {
  readonly socket: net.Socket
  readonly tcpSocket: TcpSocketImpl<A>
}

/** A client that went away ends its connection normally: not a handler error. */
const isClientLeaving = (error: unknown): boolean =>
  (error instanceof WriteError && error.reason === "ConsumerLeft") ||
  (error instanceof ReadError && error.reason === "Reset")

/** @internal */
export const isNormalEnd = <E>(cause: Cause.Cause<E>): boolean =>
  Chunk.isEmpty(Cause.defects(cause)) && Chunk.every(Cause.failures(cause), isClientLeaving)

/**
 * A peer that broke the protocol: it ended inside a message, sent a line, frame or length over a
 * read bound, was too slow for `readTimeout`, or sent a message that does not decode. Not a bug
 * of the program: the default policy logs it at debug level, as a client leaving, without a stack.
 */
const isPeerViolation = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  const tagged = error as { readonly _tag?: unknown; readonly reason?: unknown }
  switch (tagged._tag) {
    case "ReadError":
      return tagged.reason === "UnexpectedEof" || tagged.reason === "LineTooLong" || tagged.reason === "TooLarge" ||
        tagged.reason === "Timeout"
    case "FrameError":
      return true
    case "MessageError":
      return tagged.reason === "Decode"
    default:
      return false
  }
}

/** @internal */
export const isPeerViolationOnly = <E>(cause: Cause.Cause<E>): boolean => {
  const failures = Cause.failures(cause)
  return Chunk.isEmpty(Cause.defects(cause)) && Chunk.isNonEmpty(failures) &&
    Chunk.every(failures, (e) => isClientLeaving(e) || isPeerViolation(e))
}

/** What the fiber of a connection without a span serves (in its context). */
class ServedConnection {
  constructor(readonly attached: Attached<Address.Address>, readonly scope: Scope.CloseableScope) {}
}

const Served = Context.GenericTag<ServedConnection>("effect-tcp/internal/Served")

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
  private readonly tls: TlsAcceptor | undefined
  /** Whether connections get spans: only when a tracer that records them is installed. */
  private readonly tracing: boolean

  constructor(
    private readonly cfg: ServerConfig<E>,
    private readonly handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
    private readonly fibers: FiberSet.FiberSet<void, never>,
    private readonly run: (
      effect: Effect.Effect<void, never, Exclude<R, Scope.Scope>>
    ) => Fiber.RuntimeFiber<void, never>,
    private readonly runtime: Runtime.Runtime<Exclude<R, Scope.Scope>>,
    /** The connection fibers' scheduler (in `run`'s and `runtime`'s fiber refs). */
    private readonly handOff: HandOffScheduler
  ) {
    this.tracing = recordsSpans(runtime.fiberRefs)
    this.unixLocal = cfg.plan._tag === "Unix" ? Address.unix(cfg.plan.path) as A : undefined
    this.tls = cfg.tls === undefined ? undefined : new TlsAcceptor(cfg.tls)
    this.admission = new Admission<Accepted<A>>({
      maxConnections: cfg.maxConnections,
      maxWaiting: cfg.maxWaiting,
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
      socket.on("error", constVoid)
      const admission = this.admission
      if (admission.closed || admission.drop) {
        return admission.offer({ socket, tcpSocket: new TcpSocketImpl(socket, this.unixRemote, this.unixRemote) })
      }
      if (this.unixLocal !== undefined) {
        return admission.offer({ socket, tcpSocket: new TcpSocketImpl(socket, this.unixLocal, this.unixRemote) })
      }
      const tcpSocket = new TcpSocketImpl<A>(socket, undefined, undefined)
      // Addresses are read on first use, except for a socket that will be held: its peer may be
      // gone by the time it is served (Node caches them once read).
      if (admission.live >= this.cfg.maxConnections || admission.waiting > 0) tcpSocket.addresses()
      admission.offer({ socket, tcpSocket })
    },
    onError: (error) => {
      this.run(
        Effect.logWarning("effect-tcp: accept failed", error).pipe(
          Effect.annotateLogs({ "effect-tcp.listen": this.listenLabel() })
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

  /** A slot is free for `item`: over TLS, its handshake first; then its handler. */
  private start(item: Accepted<A>): void {
    const tls = this.tls
    if (tls === undefined) return this.open(item)
    const raw = item.socket
    const tcpSocket = item.tcpSocket.addresses()
    tls.accept(raw, tcpSocket.remoteAddress, (secure) => {
      if (this.admission.closed) {
        // The server closed during the handshake: no handler starts after `close`.
        secure.destroy()
        return this.releaseWhenClosed(raw)
      }
      this.open({
        socket: secure,
        tcpSocket: new TcpSocketImpl(secure, tcpSocket.localAddress, tcpSocket.remoteAddress)
      })
    }, (error) => {
      this.releaseWhenClosed(raw)
      if (error !== undefined) {
        this.run(
          Effect.logDebug("effect-tcp: TLS handshake failed", error).pipe(
            Effect.annotateLogs({
              "effect-tcp.remote": Address.format(tcpSocket.remoteAddress),
              "effect-tcp.listen": this.cfg.target
            })
          )
        )
      }
    })
  }

  private releaseWhenClosed(socket: net.Socket): void {
    if (socket.closed) return this.released()
    socket.once("close", this.released)
    socket.destroy()
  }

  /** Runs the handler of a connection (plaintext, or TLS after its handshake). */
  private open(item: Accepted<A>): void {
    const socket = item.socket
    if (this.unixLocal === undefined) applySocketOptions(socket, this.cfg.socket)
    const fiber = this.tracing ? this.run(this.serve(item)) : this.serveUntraced(item)
    if (this.cfg.idleTimeout !== undefined) {
      socket.setTimeout(this.cfg.idleTimeout, () => fiber.unsafeInterruptAsFork(FiberId.none))
    }
    fiber.addObserver(() => {
      if (socket.closed) return this.released()
      socket.once("close", this.released)
      socket.destroy()
    })
  }

  /** The accepted socket as a server-side connection, its reads resumed by `handOff`. */
  private attach(item: Accepted<A>): Attached<A> {
    return attachUnscoped(item.tcpSocket, this.cfg.reader, this.cfg.writer, "server", undefined, this.handOff)
  }

  /**
   * One connection without a span (no tracer records them): the fiber is started with the
   * handler's scope already in its context (no context rewrite, no `Effect.scoped`). Then,
   * uninterruptibly: the scope is closed, the writer closed (flushing), the reader, the socket closed, and the verdict
   * reported; the same order as `serve`.
   */
  private serveUntraced(item: Accepted<A>): Fiber.RuntimeFiber<void, never> {
    const attached = this.attach(item)
    // A real scope: Effect's forkIn/forkScoped reach into the scope's own state, so a stand-in
    // that makes the scope lazily breaks handlers that fork into it.
    const scope = Effect.runSync(Scope.make())
    const runtime = this.runtime
    // One context made for the connection (the runtime's, its scope, what `untraced` serves);
    // the program is the server's, shared by every connection.
    const context = new Map(runtime.context.unsafeMap)
    context.set(Scope.Scope.key, scope)
    context.set(Served.key, new ServedConnection(attached as Attached<Address.Address>, scope))
    const fiber = Runtime.runFork(
      Runtime.make({
        context: Context.unsafeMake(context) as Context.Context<Exclude<R, Scope.Scope>>,
        fiberRefs: runtime.fiberRefs,
        runtimeFlags: runtime.runtimeFlags
      })
    )(this.untraced)
    FiberSet.unsafeAdd(this.fibers, fiber)
    return fiber
  }

  /**
   * A connection without a span, as the program of its fiber (built once per server: the
   * connection is read from the fiber's context): the handler, interruptible; then,
   * uninterruptibly, the scope is closed, the writer closed (flushing), the reader, the socket
   * closed, and the verdict reported; the same order as `serve`.
   */
  private readonly untraced: Effect.Effect<void, never, any> = Effect.uninterruptible(
    Effect.flatMap(
      Effect.exit(Effect.interruptible(Effect.flatMap(Served, (served) => this.handler(served.attached as never)))),
      (exit) => Effect.flatMap(Served, (served) => this.finishUntraced(served, exit as Exit.Exit<void, E>))
    )
  )

  private finishUntraced(served: ServedConnection, exit: Exit.Exit<void, E>): Effect.Effect<void> {
    const attached = served.attached
    // The client's address, for the report, while the socket can still tell it.
    if (exit._tag === "Failure") void attached.socket.remoteAddress
    const released = (result: Exit.Exit<void, E>) =>
      Effect.async<void>((resume) =>
        releaseThen(
          attached,
          () =>
            resume(
              result._tag === "Success"
                ? Effect.void
                : Effect.interruptible(this.report(attached.socket.remoteAddress as A, result.cause))
            )
        )
      )
    return Effect.flatMap(Effect.exit(Scope.close(served.scope, exit)), (closed) =>
      released(
        closed._tag === "Success"
          ? exit
          : exit._tag === "Failure"
          ? Exit.failCause(Cause.sequential(exit.cause, closed.cause))
          : closed
      ))
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
            const attached = this.attach(item)
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
      attributes: {
        "effect-tcp.remote": Address.format(item.tcpSocket.remoteAddress),
        "effect-tcp.local": Address.format(item.tcpSocket.localAddress)
      }
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
                return result._tag === "Success"
                  ? Effect.void
                  : restore(this.report(item.tcpSocket.remoteAddress, result.cause))
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
      case "Log": {
        const annotations = { "effect-tcp.remote": Address.format(remote), "effect-tcp.listen": this.listenLabel() }
        if (isPeerViolationOnly(cause)) {
          const messages = Chunk.toReadonlyArray(Cause.failures(cause)).map((e) =>
            e instanceof Error ? e.message : String(e)
          )
          return Effect.logDebug(`effect-tcp: client left breaking the protocol: ${messages.join("; ")}`).pipe(
            Effect.annotateLogs(annotations)
          )
        }
        return Effect.logError("effect-tcp: connection handler failed", cause).pipe(Effect.annotateLogs(annotations))
      }
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
      if (this.listener !== undefined) {
        this.listener.close()
        removeOwnSocketFile(this.listener)
      }
      this.tls?.close()
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

  get maxConnections(): number {
    return this.cfg.maxConnections
  }

  get maxWaiting(): number {
    return this.cfg.maxWaiting
  }

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

  /** Where the server listens: the bound address once listening (not the requested `:0`). */
  listenLabel(): string {
    return this.listeningOnAddress === undefined ? this.cfg.target : Address.format(this.listeningOnAddress)
  }

  toString(): string {
    return `Server(${this.listenLabel()})`
  }

  toJSON(): unknown {
    return { _id: "effect-tcp/Server", listeningOn: this.listeningOn, target: this.cfg.target }
  }
}

/**
 * Says once, when the server starts, that the descriptor limit lowered what was asked: a warning
 * when the caller gave the option, at debug level when only the defaults were lowered.
 */
const logLowered = <E>(cfg: ServerConfig<E>, opts: Server.ServerOptions<any, any> | undefined): Effect.Effect<void> => {
  const limits = cfg.limits
  const explicit = opts?.maxConnections !== undefined || opts?.maxWaiting !== undefined
  const message = `effect-tcp: the descriptor limit (${limits.descriptorLimit}) lowers maxConnections from ` +
    `${limits.askedMaxConnections} to ${limits.maxConnections} and maxWaiting from ${limits.askedMaxWaiting} to ` +
    `${limits.maxWaiting}; raise it (ulimit -n) to serve more (server.maxConnections and server.maxWaiting say what is in force)`
  return (explicit ? Effect.logWarning(message) : Effect.logDebug(message)).pipe(
    Effect.annotateLogs({ "effect-tcp.listen": cfg.target })
  )
}

/** @internal */
export const make = <A extends Address.Address, L extends number | string, E, R>(
  where: WhereToListen.WhereToListen,
  handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
  opts?: Server.ServerOptions<A, E>
): Effect.Effect<Server.Server<A, L, E>, ListenError | InvalidArgument, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.flatMap(
    validate(() => {
      if (typeof handler !== "function") invalidArgument("handler", `expected a function, got ${show(handler)}`)
      return serverConfig<E>(where, opts as Server.ServerOptions<Address.Address, E> | undefined)
    }),
    (cfg) =>
      Effect.gen(function*() {
        const scope = yield* Effect.scope
        const fibers = yield* FiberSet.make<void, never>()
        // Connection fibers run on a scheduler that lets their reads be resumed from the socket's
        // callbacks (see HandOffScheduler); everything else is the runtime's scheduler.
        const handOff = new HandOffScheduler(yield* FiberRef.get(FiberRef.currentScheduler))
        const [run, runtime] = yield* Effect.locally(
          Effect.zip(FiberSet.runtime(fibers)<Exclude<R, Scope.Scope>>(), Effect.runtime<Exclude<R, Scope.Scope>>()),
          FiberRef.currentScheduler,
          handOff
        )
        const server = new ServerImpl<A, L, E, R>(cfg, handler, fibers, run, runtime, handOff)
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(listen(cfg as ServerConfig<unknown>, server.listeners)), (listener) => {
            server.listening(listener)
            return Scope.addFinalizer(scope, server.shutdown)
          })
        )
        if (cfg.limits.lowered) yield* logLowered(cfg, opts)
        return server
      })
  )

/** @internal */
export const serve = <A extends Address.Address, L extends number | string, E, R>(
  where: WhereToListen.WhereToListen,
  handler: (connection: Connection.Connection<A>) => Effect.Effect<void, E, R>,
  opts?: Server.ServeOptions<A, L, E>
): Effect.Effect<never, E | ListenError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.gen(function*() {
      const server = yield* make<A, L, E, R>(where, handler, opts)
      if (opts?.onListening !== undefined) yield* opts.onListening(server)
      yield* server.closeFinishedAndHandlersDetermined
      return yield* Effect.never
    })
  )
