/**
 * Connecting: validation, name resolution, one attempt per resolved address (IPv6 and IPv4
 * interleaved) within one timeout, and the scoped socket.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import * as Address from "../Address.js"
import type * as Connection from "../Connection.js"
import * as Resolver from "../Resolver.js"
import type * as Tcp from "../Tcp.js"
import { type ConnectAttempt, ConnectError, type ConnectErrorReason, type InvalidArgument } from "../TcpError.js"
import * as WhereToConnect from "../WhereToConnect.js"
import { attach, closeSocket, inetAddresses, makeTcpSocket } from "./connection.js"
import * as metrics from "./metrics.js"
import * as options from "./options.js"

/** How long an attempt may take before the next address is tried (Node's `autoSelectFamilyAttemptTimeout`). */
const attemptDelay = Duration.millis(250)

type Plan =
  | {
    readonly _tag: "Inet"
    readonly host: string
    readonly literal: boolean
    readonly port: number
    readonly localAddress: string | undefined
    readonly localPort: number | undefined
  }
  | { readonly _tag: "Unix"; readonly path: string }

interface ConnectConfig {
  readonly plan: Plan
  readonly timeout: number
  readonly resolveTimeout: number
  readonly noDelay: boolean
  readonly keepAlive: options.KeepAlive
  readonly family: 4 | 6 | undefined
}

const plan = (where: WhereToConnect.Target): Plan => {
  switch (where._tag) {
    case "HostAndPort": {
      const host = options.checkHost("host", where.host)
      const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
      return {
        _tag: "Inet",
        host: bare,
        literal: net.isIP(bare) !== 0,
        port: options.checkPort("port", where.port),
        ...local(where)
      }
    }
    case "InetAddress": {
      const host = options.checkHost("address.host", where.address.host)
      if (net.isIP(host) === 0) options.invalidArgument("address.host", `expected an IP address, got ${host}`)
      return { _tag: "Inet", host, literal: true, port: options.checkPort("address.port", where.address.port), ...local(where) }
    }
    case "File":
      return { _tag: "Unix", path: options.checkUnixPath("path", where.path) }
    case "UnixAddress":
      return { _tag: "Unix", path: options.checkUnixPath("address.path", where.address.path) }
  }
}

const local = (target: WhereToConnect.HostAndPort | WhereToConnect.InetAddress) => {
  const localAddress = target.viaLocalInterface
  if (localAddress !== undefined && net.isIP(localAddress) === 0) {
    options.invalidArgument("viaLocalInterface", `expected an IP address, got ${String(localAddress)}`)
  }
  return {
    localAddress,
    localPort: target.viaLocalPort === undefined ? undefined : options.checkPort("viaLocalPort", target.viaLocalPort)
  }
}

const config = (where: WhereToConnect.Target, opts: Tcp.ConnectOptions | undefined): ConnectConfig => {
  const family = opts?.family
  if (family !== undefined && family !== 4 && family !== 6) {
    options.invalidArgument("family", `expected 4 or 6, got ${String(family)}`)
  }
  return {
    plan: plan(where),
    timeout: options.checkDuration("timeout", opts?.timeout, options.defaults.connectTimeout),
    resolveTimeout: options.checkDuration("resolveTimeout", opts?.resolveTimeout, options.defaults.resolveTimeout),
    noDelay: options.checkBoolean("noDelay", opts?.noDelay, true),
    keepAlive: options.checkKeepAlive(opts?.keepAlive),
    family
  }
}

const reasonOf = (error: unknown): ConnectErrorReason => {
  switch ((error as { code?: unknown } | undefined)?.code) {
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "ENOENT":
      return "Refused"
    case "ETIMEDOUT":
      return "Timeout"
    case "ENETUNREACH":
    case "EHOSTUNREACH":
    case "ENETDOWN":
    case "EHOSTDOWN":
    case "EADDRNOTAVAIL":
      return "Unreachable"
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    default:
      return "Unknown"
  }
}

const noop = () => {}

/** One handshake on `socket`; interrupting it destroys the socket. */
const handshake = (socket: net.Socket, connectOptions: net.SocketConnectOpts): Effect.Effect<void, unknown> =>
  Effect.async<void, unknown>((resume) => {
    const cleanup = () => {
      socket.off("connect", onConnect)
      socket.off("error", onError)
    }
    const onConnect = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (error: unknown) => {
      cleanup()
      resume(Effect.fail(error))
    }
    socket.on("connect", onConnect)
    socket.on("error", onError)
    try {
      socket.connect(connectOptions)
    } catch (error) {
      cleanup()
      resume(Effect.fail(error))
    }
    return Effect.sync(() => {
      cleanup()
      socket.destroy()
    })
  })

/**
 * Opens a socket, runs one handshake on it, and either hands the socket to `scope` (which will
 * close it) or, on failure or interruption, closes it before returning.
 */
const attempt = (
  scope: Scope.Scope,
  given: net.Socket | undefined,
  connectOptions: net.SocketConnectOpts,
  bound: Duration.Duration | undefined
): Effect.Effect<net.Socket, unknown> =>
  Effect.uninterruptibleMask((restore) => {
    const socket = given ?? new net.Socket({ allowHalfOpen: true })
    socket.allowHalfOpen = true
    socket.on("error", noop)
    const run = bound === undefined
      ? handshake(socket, connectOptions)
      : Effect.timeoutFail(handshake(socket, connectOptions), {
        duration: bound,
        onTimeout: () => Object.assign(new Error("connect attempt timed out"), { code: "ETIMEDOUT" })
      })
    return restore(run).pipe(
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Scope.addFinalizer(scope, closeSocket(socket)) : closeSocket(socket)),
      Effect.as(socket)
    )
  })

const resolve = (
  cfg: ConnectConfig,
  target: string
): Effect.Effect<ReadonlyArray<Resolver.ResolvedAddress>, ConnectError> => {
  const inet = cfg.plan
  if (inet._tag !== "Inet") return Effect.succeed([])
  if (inet.literal) return Effect.succeed([{ address: inet.host, family: net.isIPv6(inet.host) ? 6 : 4 }])
  return Effect.serviceOption(Resolver.Resolver).pipe(
    Effect.flatMap((service) => Option.getOrElse(service, () => Resolver.system).lookup(inet.host, cfg.family)),
    Effect.timeoutFail({
      duration: cfg.resolveTimeout,
      onTimeout: () =>
        new Resolver.ResolveError({ host: inet.host, reason: "Unknown", cause: new Error("name resolution timed out") })
    }),
    Effect.flatMap((addresses) =>
      addresses.length === 0
        ? Effect.fail(new Resolver.ResolveError({ host: inet.host, reason: "HostNotFound", cause: "no addresses" }))
        : Effect.succeed(Resolver.interleaveFamilies(addresses))
    ),
    Effect.catchTag("ResolveError", (error) =>
      Effect.fail(
        new ConnectError({
          reason: error.cause instanceof Error && error.cause.message === "name resolution timed out"
            ? "Timeout"
            : error.reason,
          target,
          attempts: [],
          cause: error.cause
        })
      ))
  )
}

const abandonWhen = (interrupt: Effect.Effect<unknown, unknown> | AbortSignal): Effect.Effect<void> =>
  Effect.isEffect(interrupt)
    ? Effect.asVoid(Effect.exit(interrupt))
    : Effect.async<void>((resume) => {
      if (interrupt.aborted) return resume(Effect.void)
      const onAbort = () => resume(Effect.void)
      interrupt.addEventListener("abort", onAbort, { once: true })
      return Effect.sync(() => interrupt.removeEventListener("abort", onAbort))
    })

/** Connects and returns the socket, owned by the current scope. */
const connectRaw = (
  where: WhereToConnect.Target,
  cfg: ConnectConfig,
  opts: Tcp.ConnectOptions | undefined
): Effect.Effect<{ readonly socket: net.Socket; readonly remote: Address.Address }, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const target = WhereToConnect.describe(where)
    const attempts: Array<ConnectAttempt> = []
    const plan = cfg.plan
    let given = opts?.socket

    const handshakes = (addresses: ReadonlyArray<Resolver.ResolvedAddress>) => Effect.gen(function*() {
      if (plan._tag === "Unix") {
        const remote = Address.unix(plan.path)
        const exit = yield* Effect.exit(attempt(scope, given, { path: plan.path }, undefined))
        if (Exit.isSuccess(exit)) return { socket: exit.value, remote }
        const cause = Cause.squash(exit.cause)
        attempts.push({ address: remote, reason: reasonOf(cause), cause })
        return yield* failure(target, attempts)
      }
      for (let i = 0; i < addresses.length; i++) {
        const { address, family } = addresses[i]
        const last = i === addresses.length - 1
        const localAddress = plan.localAddress ?? (plan.localPort !== undefined ? (family === 6 ? "::" : "0.0.0.0") : undefined)
        const connectOptions: net.TcpSocketConnectOpts = {
          host: address,
          port: plan.port,
          family,
          ...(localAddress !== undefined ? { localAddress } : {}),
          ...(plan.localPort !== undefined ? { localPort: plan.localPort } : {})
        }
        const socket = given
        given = undefined
        const exit = yield* Effect.exit(attempt(scope, socket, connectOptions, last ? undefined : attemptDelay))
        const remote = Address.inet(address, plan.port)
        if (Exit.isSuccess(exit)) return { socket: exit.value, remote }
        const cause = Cause.squash(exit.cause)
        attempts.push({ address: remote, reason: reasonOf(cause), cause })
        yield* spanEvent("effect-tcp.connect.attempt-failed", {
          "effect-tcp.address": Address.format(remote),
          "effect-tcp.reason": reasonOf(cause)
        })
      }
      return yield* failure(target, attempts)
    })

    // Resolution has its own bound (resolveTimeout); `timeout` covers the handshakes only.
    const bounded = Effect.flatMap(resolve(cfg, target), (addresses) =>
      Effect.timeoutFail(handshakes(addresses), {
        duration: Duration.millis(cfg.timeout),
        onTimeout: () =>
          new ConnectError({ reason: "Timeout", target, attempts: [...attempts], cause: `no connection within ${cfg.timeout} ms` })
      }))
    const interrupt = opts?.interrupt
    const raced = interrupt === undefined ? bounded : Effect.raceFirst(
      bounded,
      Effect.zipRight(
        abandonWhen(interrupt),
        Effect.suspend(() =>
          Effect.fail(new ConnectError({ reason: "Interrupted", target, attempts: [...attempts], cause: "the interrupt option fired" }))
        )
      )
    )
    return yield* Effect.tapError(raced, (error) => Effect.sync(() => metrics.connectFailed(error.reason)))
  })

/** Records an event on the current span, if there is one. */
const spanEvent = (name: string, attributes: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        if (Option.isSome(span)) span.value.event(name, clock.unsafeCurrentTimeNanos(), attributes)
      })
    ))

const failure = (target: string, attempts: ReadonlyArray<ConnectAttempt>) =>
  Effect.fail(
    new ConnectError({
      reason: attempts.length > 0 ? attempts[attempts.length - 1].reason : "Unknown",
      target,
      attempts: [...attempts],
      cause: attempts.length > 0 ? attempts[attempts.length - 1].cause : undefined
    })
  )

const validate = <A>(check: () => A): Effect.Effect<A, InvalidArgument> =>
  Effect.suspend(() => {
    const result = options.guard(check)
    return result._tag === "Ok" ? Effect.succeed(result.value) : Effect.fail(result.error)
  })

const configure = (socket: net.Socket, cfg: ConnectConfig): void => {
  if (cfg.plan._tag === "Inet") socket.setNoDelay(cfg.noDelay)
  if (cfg.keepAlive.enabled) socket.setKeepAlive(true, cfg.keepAlive.initialDelay)
}

const open = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  cfg: ConnectConfig,
  opts: Tcp.ConnectOptions | undefined
): Effect.Effect<Connection.TcpSocket<A>, ConnectError, Scope.Scope> =>
  Effect.flatMap(connectRaw(where, cfg, opts), ({ remote, socket }) => {
    configure(socket, cfg)
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
  Effect.withSpan(effect, "effect-tcp.connect", {
    kind: "client",
    attributes: { "effect-tcp.target": WhereToConnect.describe(where) }
  })

/** @internal */
export const connectSock = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<Connection.TcpSocket<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  traced(where, Effect.flatMap(validate(() => config(where, opts)), (cfg) => open(where, cfg, opts)))

/** @internal */
export const connect = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<Connection.Connection<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  Effect.flatMap(
    traced(
      where,
      validate(() => ({ cfg: config(where, opts), reader: options.readerConfig(opts), writer: options.writerConfig(opts) }))
        .pipe(Effect.flatMap(({ cfg, reader, writer }) =>
          Effect.map(open(where, cfg, opts), (socket) => ({ socket, reader, writer }))
        ))
    ),
    ({ reader, socket, writer }) => attach(socket, reader, writer, "client")
  )

/** @internal */
export const withConnection = <A extends Address.Address, X, E, R>(
  where: WhereToConnect.WhereToConnect<A>,
  f: (connection: Connection.Connection<A>) => Effect.Effect<X, E, R>,
  opts?: Tcp.ConnectOptions
): Effect.Effect<X, E | ConnectError | InvalidArgument, Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.flatMap(connect(where, opts), f))
