/**
 * Connecting: validation, name resolution, one attempt per resolved address (IPv6 and IPv4
 * interleaved) within one timeout, and the scoped socket.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constVoid } from "effect/Function"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import * as Address from "../Address.js"
import type * as Connection from "../Connection.js"
import * as Resolver from "../Resolver.js"
import type * as Tcp from "../Tcp.js"
import { type ConnectAttempt, ConnectError, type ConnectErrorReason, InvalidArgument } from "../TcpError.js"
import * as WhereToConnect from "../WhereToConnect.js"
import {
  attach,
  type Attached,
  attachUnscoped,
  closeSocket,
  closeSocketThen,
  inetAddresses,
  makeTcpSocket,
  releaseThen,
  TcpSocketImpl
} from "./connection.js"
import * as defaults from "./defaults.js"
import { connectReason } from "./errno.js"
import * as metrics from "./metrics.js"
import {
  applySocketOptions,
  raceInterrupt,
  readerConfig,
  type SocketConfig,
  socketConfig,
  writerConfig
} from "./options.js"
import type { ReaderConfig } from "./reader.js"
import * as tlsInternal from "./tls.js"
import { recordsSpansIn, spanEvent } from "./tracing.js"
import {
  checkDuration,
  checkHost,
  checkOptions,
  checkPort,
  checkUnixPath,
  invalidArgument,
  show,
  timerMillis,
  validate
} from "./validate.js"
import type { WriterConfig } from "./writer.js"

/** How long an attempt may take before the next address is tried (Node's `autoSelectFamilyAttemptTimeout`). */
const attemptDelay = 250

type Plan =
  | {
    readonly _tag: "Inet"
    readonly host: string
    readonly literal: boolean
    /** 4 or 6 for a literal IP, 0 for a name to resolve. */
    readonly family: 0 | 4 | 6
    readonly port: number
    readonly localAddress: string | undefined
    readonly localPort: number | undefined
  }
  | { readonly _tag: "Unix"; readonly path: string }

interface ConnectConfig {
  readonly plan: Plan
  readonly timeout: number
  readonly resolveTimeout: number
  readonly socket: SocketConfig
  readonly family: 4 | 6 | undefined
}

/** The last host `ipFamily` was asked about, and its answer: a loop connecting to one host asks once. */
let lastHost = ""
let lastFamily: 0 | 4 | 6 = 0

/** `net.isIP` (two regular expressions), remembered for the last host. */
const ipFamily = (host: string): 0 | 4 | 6 => {
  if (host !== lastHost) {
    lastFamily = net.isIP(host) as 0 | 4 | 6
    lastHost = host
  }
  return lastFamily
}

const planTarget = (where: WhereToConnect.Target): Plan => {
  if (typeof where !== "object" || where === null) {
    return invalidArgument("where", `expected a WhereToConnect, got ${show(where)}`)
  }
  if (where._tag === "InetAddress" && (typeof where.address !== "object" || where.address === null)) {
    return invalidArgument("address", `expected an Address.Inet, got ${show(where.address)}`)
  }
  if (where._tag === "UnixAddress" && (typeof where.address !== "object" || where.address === null)) {
    return invalidArgument("address", `expected an Address.Unix, got ${show(where.address)}`)
  }
  switch (where._tag) {
    case "HostAndPort": {
      const host = checkHost("host", where.host)
      const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
      const family = ipFamily(bare)
      return {
        _tag: "Inet",
        host: bare,
        literal: family !== 0,
        family,
        port: checkPort("port", where.port),
        ...local(where)
      }
    }
    case "InetAddress": {
      const host = checkHost("address.host", where.address.host)
      const family = ipFamily(host)
      if (family === 0) invalidArgument("address.host", `expected an IP address, got ${host}`)
      return {
        _tag: "Inet",
        host,
        literal: true,
        family,
        port: checkPort("address.port", where.address.port),
        ...local(where)
      }
    }
    case "File":
      return { _tag: "Unix", path: checkUnixPath("path", where.path) }
    case "UnixAddress":
      return { _tag: "Unix", path: checkUnixPath("address.path", where.address.path) }
    default:
      return invalidArgument("where", "expected a WhereToConnect")
  }
}

const local = (target: WhereToConnect.HostAndPort | WhereToConnect.InetAddress) => {
  const localAddress = target.viaLocalInterface
  if (localAddress !== undefined && (typeof localAddress !== "string" || net.isIP(localAddress) === 0)) {
    invalidArgument("viaLocalInterface", `expected an IP address, got ${show(localAddress)}`)
  }
  return {
    localAddress,
    localPort: target.viaLocalPort === undefined ? undefined : checkPort("viaLocalPort", target.viaLocalPort)
  }
}

const connectConfig = (where: WhereToConnect.Target, opts: Tcp.ConnectOptions | undefined): ConnectConfig => {
  checkOptions("options", opts)
  const family = opts?.family
  if (family !== undefined && family !== 4 && family !== 6) {
    invalidArgument("family", `expected 4 or 6, got ${show(family)}`)
  }
  const interrupt: unknown = opts?.interrupt
  if (interrupt !== undefined && !Effect.isEffect(interrupt) && !(interrupt instanceof AbortSignal)) {
    invalidArgument("interrupt", `expected an Effect or an AbortSignal, got ${show(interrupt)}`)
  }
  const socket: unknown = opts?.socket
  if (socket !== undefined && !(socket instanceof net.Socket)) {
    invalidArgument("socket", `expected an unconnected net.Socket, got ${show(socket)}`)
  }
  return {
    plan: planTarget(where),
    timeout: checkDuration("timeout", opts?.timeout, defaults.connectTimeout),
    resolveTimeout: checkDuration("resolveTimeout", opts?.resolveTimeout, defaults.resolveTimeout),
    socket: socketConfig(opts),
    family
  }
}

/** One address to try: how to reach it, and the address it stands for. */
interface Endpoint {
  readonly options: net.SocketConnectOpts
  readonly remote: Address.Address
}

interface Connected {
  readonly socket: net.Socket
  readonly remote: Address.Address
}

/**
 * Tries `endpoints` in turn until one connects, all within `timeout` milliseconds; an attempt
 * that is not the last gets `attemptDelay` before the next address is tried. Driven by socket
 * callbacks and plain timers (no fiber per attempt): this is the whole per-connect cost.
 * Every socket it gave up on is closed before it completes; interrupting it destroys the socket
 * in progress and waits until its descriptor is closed.
 */
const handshakes = (
  endpoints: ReadonlyArray<Endpoint>,
  given: net.Socket | undefined,
  timeout: number,
  target: string,
  attempts: Array<ConnectAttempt>
): Effect.Effect<Connected, ConnectError> =>
  Effect.async<Connected, ConnectError>((resume) => {
    let current: net.Socket | undefined
    let attemptTimer: ReturnType<typeof setTimeout> | undefined
    let settled = false
    let open = 0
    let outcome: Effect.Effect<Connected, ConnectError> | undefined
    const onSocketClosed = () => {
      open--
      if (outcome !== undefined && open === 0) resume(outcome)
    }
    /** Completes once every abandoned socket has closed. */
    const settle = (result: Effect.Effect<Connected, ConnectError>) => {
      settled = true
      clearTimeout(deadline)
      clearTimeout(attemptTimer)
      outcome = result
      if (open === 0) resume(result)
    }
    const abandon = (socket: net.Socket) => {
      socket.removeAllListeners("connect")
      socket.destroy()
    }
    const fail = (reason: ConnectErrorReason, cause: unknown) =>
      settle(Effect.fail(new ConnectError({ reason, target, attempts: [...attempts], cause })))
    const attemptFailed = (index: number, socket: net.Socket, cause: unknown) => {
      if (settled || socket !== current) return
      clearTimeout(attemptTimer)
      attempts.push({ address: endpoints[index]!.remote, reason: connectReason(cause), cause })
      abandon(socket)
      current = undefined
      if (index + 1 < endpoints.length) return tryEndpoint(index + 1)
      const last = attempts[attempts.length - 1]!
      fail(last.reason, last.cause)
    }
    const tryEndpoint = (index: number): void => {
      const socket = index === 0 && given !== undefined ? given : new net.Socket({ allowHalfOpen: true })
      socket.allowHalfOpen = true
      socket.on("error", constVoid)
      socket.once("close", onSocketClosed)
      open++
      current = socket
      socket.once("error", (error) => attemptFailed(index, socket, error))
      socket.once("connect", () => {
        if (settled || socket !== current) return
        socket.removeAllListeners("error")
        socket.on("error", constVoid)
        socket.off("close", onSocketClosed)
        open--
        current = undefined
        settle(Effect.succeed({ socket, remote: endpoints[index]!.remote }))
      })
      if (index + 1 < endpoints.length) {
        attemptTimer = setTimeout(
          () =>
            attemptFailed(index, socket, Object.assign(new Error("connect attempt timed out"), { code: "ETIMEDOUT" })),
          attemptDelay
        )
      }
      try {
        socket.connect(endpoints[index]!.options)
      } catch (error) {
        attemptFailed(index, socket, error)
      }
    }
    const deadline = setTimeout(() => {
      if (settled) return
      if (current !== undefined) abandon(current)
      current = undefined
      fail("Timeout", `no connection within ${timeout} ms`)
    }, timerMillis(timeout))
    tryEndpoint(0)
    return Effect.suspend(() => {
      settled = true
      clearTimeout(deadline)
      clearTimeout(attemptTimer)
      const socket = current
      current = undefined
      return socket === undefined ? Effect.void : closeSocket(socket)
    })
  })

const resolve = (
  cfg: ConnectConfig,
  target: string
): Effect.Effect<ReadonlyArray<Resolver.ResolvedAddress>, ConnectError> => {
  const inet = cfg.plan
  if (inet._tag !== "Inet") return Effect.succeed([])
  return Resolver.Resolver.pipe(
    Effect.flatMap((resolver) => resolver.lookup(inet.host, cfg.family)),
    Effect.flatMap((addresses) =>
      addresses.length === 0
        ? Effect.fail(new Resolver.ResolveError({ host: inet.host, reason: "HostNotFound", cause: "no addresses" }))
        : Effect.succeed(Resolver.interleaveFamilies(addresses))
    ),
    Effect.catchTags({
      ResolveError: (error) =>
        Effect.fail(new ConnectError({ reason: error.reason, target, attempts: [], cause: error.cause })),
      // The host was checked already: a resolver refusing it is the resolver's own rule.
      InvalidArgument: (error) =>
        Effect.fail(new ConnectError({ reason: "Unknown", target, attempts: [], cause: error }))
    }),
    Effect.timeoutFail({
      duration: cfg.resolveTimeout,
      onTimeout: () =>
        new ConnectError({ reason: "Timeout", target, attempts: [], cause: new Error("name resolution timed out") })
    })
  )
}

const inetEndpoint = (plan: Extract<Plan, { _tag: "Inet" }>, address: string, family: number): Endpoint => {
  const localAddress = plan.localAddress ??
    (plan.localPort !== undefined ? (family === 6 ? "::" : "0.0.0.0") : undefined)
  return {
    options: {
      host: address,
      port: plan.port,
      family,
      ...(localAddress !== undefined ? { localAddress } : {}),
      ...(plan.localPort !== undefined ? { localPort: plan.localPort } : {})
    },
    remote: Address.inet(address, plan.port)
  }
}

const inetEndpoints = (
  plan: Extract<Plan, { _tag: "Inet" }>,
  addresses: ReadonlyArray<Resolver.ResolvedAddress>
): ReadonlyArray<Endpoint> => addresses.map(({ address, family }) => inetEndpoint(plan, address, family))

/** Connects and returns the socket, owned by the current scope (registered before it is returned). */
const connectRaw = (
  where: WhereToConnect.Target,
  cfg: ConnectConfig,
  opts: Tcp.ConnectOptions | undefined
): Effect.Effect<Connected, ConnectError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    const target = WhereToConnect.format(where)
    const attempts: Array<ConnectAttempt> = []
    const plan = cfg.plan
    const owned = (endpoints: ReadonlyArray<Endpoint>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          restore(handshakes(endpoints, opts?.socket, cfg.timeout, target, attempts)),
          (connected) => Effect.as(Scope.addFinalizer(scope, closeSocket(connected.socket)), connected)
        )
      )
    // Resolution has its own bound (resolveTimeout); `timeout` covers the handshakes only.
    const connecting = plan._tag === "Unix"
      ? owned([{ options: { path: plan.path }, remote: Address.unix(plan.path) }])
      : plan.literal
      ? owned([inetEndpoint(plan, plan.host, plan.family)])
      : Effect.flatMap(resolve(cfg, target), (addresses) => owned(inetEndpoints(plan, addresses)))
    const interrupt = opts?.interrupt
    const raced = raceInterrupt(connecting, interrupt, () =>
      new ConnectError({
        reason: "Interrupted",
        target,
        attempts: [...attempts],
        cause: "the interrupt option fired"
      }))
    return Effect.tapError(raced, (error) =>
      Effect.zipRight(
        Effect.sync(() => metrics.connectFailed(error.reason)),
        Effect.forEach(attempts, (attempt) =>
          spanEvent("effect-tcp.connect.attempt-failed", {
            "effect-tcp.address": Address.format(attempt.address),
            "effect-tcp.reason": attempt.reason
          }), { discard: true })
      ))
  })

/** Connects, applies the socket options, and wraps the socket (owned by the current scope). */
const openSocket = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  cfg: ConnectConfig,
  opts: Tcp.ConnectOptions | undefined
): Effect.Effect<Connection.TcpSocket<A>, ConnectError, Scope.Scope> =>
  Effect.flatMap(connectRaw(where, cfg, opts), ({ remote, socket }) => {
    if (cfg.plan._tag === "Inet") applySocketOptions(socket, cfg.socket)
    const tcpSocket = remote._tag === "Unix"
      ? makeTcpSocket(socket, Address.unix("") as A, remote as A)
      : makeTcpSocket(socket, inetAddresses(socket, remote).local as A, inetAddresses(socket, remote).remote as A)
    return Effect.as(
      Effect.annotateCurrentSpan({
        "effect-tcp.remote": Address.format(tcpSocket.remoteAddress),
        "effect-tcp.local": Address.format(tcpSocket.localAddress)
      }),
      tcpSocket
    )
  })

/** The span around a connect: its target, then the addresses it reached, or its error. */
const traced = <X, E, R>(where: WhereToConnect.Target, effect: Effect.Effect<X, E, R>): Effect.Effect<X, E, R> =>
  // Formatted when the effect runs, never at call time: a JavaScript caller's target may be wrong.
  Effect.suspend(() =>
    Effect.withSpan(effect, "effect-tcp.connect", {
      kind: "client",
      captureStackTrace: false,
      attributes: { "effect-tcp.target": WhereToConnect.format(where) }
    })
  )

/** @internal */
export const connectSock = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<Connection.TcpSocket<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  traced(where, Effect.flatMap(validate(() => connectConfig(where, opts)), (cfg) => openSocket(where, cfg, opts)))

/** Where a socket being connected directly keeps its `DirectConnect`, for the shared listeners below. */
const directKey: unique symbol = Symbol("effect-tcp/DirectConnect")

type DirectSocket = net.Socket & { [directKey]: DirectConnect }

// The connecting socket's listeners: shared functions (`this` is the socket), no closures per connect.
function onDirectConnect(this: DirectSocket): void {
  this[directKey].connected()
}
function onDirectError(this: DirectSocket, error: Error): void {
  this[directKey].failed(error)
}
const onDirectDeadline = (connect: DirectConnect): void => connect.timedOut()

/**
 * One direct connect (a literal IP or a Unix path, no `interrupt` option, no tracer recording
 * spans) and what its one scope finalizer releases: nothing yet, the socket while connecting,
 * then the attached connection (writer, reader, socket, in that order). Driven by the socket's
 * callbacks and one timer; the connection is attached in the socket's `'connect'` callback, so
 * whatever happens to the fiber the finalizer owns what was opened. A failed or timed-out
 * attempt completes once its socket has closed; interrupting it destroys the socket in progress
 * and waits until its descriptor is closed.
 */
class DirectConnect {
  socket: net.Socket | undefined = undefined
  attached: Attached<Address.Address> | undefined = undefined
  private settled = false
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private resume: ((exit: Effect.Effect<Connection.Connection<any>, ConnectError>) => void) | undefined = undefined

  constructor(
    private readonly where: WhereToConnect.Target,
    private readonly cfg: ConnectConfig,
    private readonly endpoint: Endpoint,
    private readonly reader: ReaderConfig,
    private readonly writer: WriterConfig,
    private readonly given: net.Socket | undefined
  ) {}

  /** The scope's finalizer: closes whatever was opened, in order. */
  readonly release: Effect.Effect<void> = Effect.async<void>((resume) => {
    const done = () => resume(Effect.void)
    if (this.attached !== undefined) return releaseThen(this.attached, done)
    const socket = this.socket
    if (socket === undefined) return done()
    this.settle()
    closeSocketThen(socket, done)
  })

  /**
   * The handshake: completes with the attached connection, or the ConnectError. Built per
   * connect and not kept: once connected, the object holds what the finalizer needs.
   */
  connect(): Effect.Effect<Connection.Connection<any>, ConnectError> {
    return Effect.async((resume) => this.start(resume))
  }

  private start(resume: (exit: Effect.Effect<Connection.Connection<any>, ConnectError>) => void): Effect.Effect<void> {
    this.resume = resume
    const socket = this.given ?? new net.Socket({ allowHalfOpen: true })
    socket.allowHalfOpen = true
    this.socket = socket
    ;(socket as DirectSocket)[directKey] = this
    socket.on("error", onDirectError)
    socket.once("connect", onDirectConnect)
    this.timer = setTimeout(onDirectDeadline, timerMillis(this.cfg.timeout), this)
    try {
      socket.connect(this.endpoint.options)
    } catch (error) {
      this.failed(error)
    }
    return Effect.async<void>((done) => {
      this.settle()
      this.resume = undefined
      if (this.attached !== undefined) return done(Effect.void)
      closeSocketThen(socket, () => done(Effect.void))
    })
  }

  /** Completes the connect (once): the resume callback is not kept, nor the fiber it holds. */
  private complete(exit: Exit.Exit<Connection.Connection<any>, ConnectError>): void {
    const resume = this.resume
    this.resume = undefined
    if (resume !== undefined) resume(exit)
  }

  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    clearTimeout(this.timer)
    this.timer = undefined
    return true
  }

  connected(): void {
    const socket = this.socket!
    if (!this.settle()) return
    socket.removeListener("error", onDirectError)
    const plan = this.cfg.plan
    if (plan._tag === "Inet") applySocketOptions(socket, this.cfg.socket)
    const tcpSocket = new TcpSocketImpl<Address.Address>(
      socket,
      plan._tag === "Unix" ? Address.unix("") : undefined,
      this.endpoint.remote
    )
    // attach adds the connection's own 'error' listener before any error can be emitted.
    this.attached = attachUnscoped(tcpSocket, this.reader, this.writer, "client")
    this.complete(Exit.succeed(this.attached))
  }

  failed(cause: unknown): void {
    if (!this.settle()) return
    const reason = connectReason(cause)
    this.finish(reason, cause, [{ address: this.endpoint.remote, reason, cause }])
  }

  timedOut(): void {
    this.timer = undefined
    if (!this.settle()) return
    this.finish("Timeout", `no connection within ${this.cfg.timeout} ms`, [])
  }

  /** Fails the connect once the socket has closed. */
  private finish(reason: ConnectErrorReason, cause: unknown, attempts: Array<ConnectAttempt>): void {
    const socket = this.socket!
    socket.removeAllListeners("connect")
    socket.removeListener("error", onDirectError)
    socket.on("error", constVoid)
    metrics.connectFailed(reason)
    const error = new ConnectError({ reason, target: WhereToConnect.format(this.where), attempts, cause })
    closeSocketThen(socket, () => this.complete(Exit.fail(error)))
  }
}

/** The configurations of `undefined` or `{}` options (most connects), checked once. */
let defaultConfigs: { readonly reader: ReaderConfig; readonly writer: WriterConfig } | undefined

const hasOwnOptions = (opts: object): boolean => {
  for (const _ in opts) return true
  return false
}

const configsOf = (opts: Tcp.ConnectOptions | undefined) => {
  if (opts === undefined || (typeof opts === "object" && opts !== null && !hasOwnOptions(opts))) {
    return defaultConfigs ??= { reader: readerConfig(undefined), writer: writerConfig(undefined) }
  }
  return { reader: readerConfig(opts), writer: writerConfig(opts) }
}

/** @internal */
export const connect = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<Connection.Connection<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  opts?.tls !== undefined ? tlsInternal.connect(where, opts, connectSock) : connectPlain(where, opts)

const connectPlain = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<Connection.Connection<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  Effect.flatMap(
    validate(() => {
      const cfg = connectConfig(where, opts)
      const { reader, writer } = configsOf(opts)
      return { cfg, reader, writer }
    }),
    ({ cfg, reader, writer }) =>
      Effect.withFiberRuntime((fiber) => {
        const plan = cfg.plan
        if (
          opts?.interrupt === undefined && (plan._tag === "Unix" || plan.literal) && !recordsSpansIn(fiber)
        ) {
          // One scope finalizer registered first, then one callback-driven handshake.
          const endpoint: Endpoint = plan._tag === "Unix"
            ? { options: { path: plan.path }, remote: Address.unix(plan.path) }
            : inetEndpoint(plan, plan.host, plan.family)
          const direct = new DirectConnect(where, cfg, endpoint, reader, writer, opts?.socket)
          const scope = Context.unsafeGet(fiber.currentContext, Scope.Scope)
          return Effect.zipRight(Scope.addFinalizer(scope, direct.release), direct.connect())
        }
        return Effect.flatMap(
          traced(where, Effect.map(openSocket(where, cfg, opts), (socket) => ({ socket, reader, writer }))),
          ({ reader, socket, writer }) => attach(socket, reader, writer, "client")
        )
      })
  )

/** @internal */
export const withConnection = <A extends Address.Address, X, E, R>(
  where: WhereToConnect.WhereToConnect<A>,
  f: (connection: Connection.Connection<A>) => Effect.Effect<X, E, R>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<X, E | ConnectError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  typeof f !== "function"
    ? Effect.fail(new InvalidArgument({ argument: "f", message: `f: expected a function, got ${show(f)}` }))
    : Effect.scoped(Effect.flatMap(connect(where, opts), f))

/** @internal Checks what `connect` would check, without connecting (for sockets that dial later). */
export const checkConnect = (
  where: WhereToConnect.WhereToConnect<Address.Address>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<void, InvalidArgument> =>
  validate(() => {
    connectConfig(where, opts)
    readerConfig(opts)
    writerConfig(opts)
    if (opts?.tls !== undefined) tlsInternal.clientConfig(opts.tls)
  })
