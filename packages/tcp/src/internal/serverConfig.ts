/**
 * A server's configuration: where to listen and the `ServerOptions`, checked (inside `validate`)
 * into what the listener and the connections use.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as net from "node:net"
import type * as Address from "../Address.js"
import type * as BindToAddress from "../BindToAddress.js"
import type * as BindToPort from "../BindToPort.js"
import type * as Server from "../Server.js"
import * as WhereToListen from "../WhereToListen.js"
import * as defaults from "./defaults.js"
import { readerConfig, type SocketConfig, socketConfig, writerConfig } from "./options.js"
import type { ReaderConfig } from "./reader.js"
import { serverConfig as tlsServerConfig, type TlsServerConfig } from "./tls.js"
import {
  checkBoolean,
  checkCount,
  checkDuration,
  checkOptions,
  checkPort,
  checkSize,
  checkUnixPath,
  invalidArgument,
  show,
  timerMillis
} from "./validate.js"
import type { WriterConfig } from "./writer.js"

/** Descriptors kept free below the process limit for the rest of the program. */
const reservedDescriptors = 64
/** The fewest handlers a descriptor limit lowers `maxConnections` to (unless fewer were asked). */
const minConnections = 32

/** Where to bind: an inet host (none: every address) and port, or a Unix socket path. */
export type ListenPlan =
  | { readonly _tag: "Inet"; readonly host: string | undefined; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/** `ServerOptions.onHandlerError`, checked. */
export type HandlerErrorPolicy<E> =
  | { readonly _tag: "Log" }
  | { readonly _tag: "Ignore" }
  | { readonly _tag: "Raise" }
  | {
    readonly _tag: "Call"
    readonly f: (address: Address.Address, cause: Cause.Cause<E>) => Effect.Effect<void>
  }

export interface ServerConfig<E> {
  readonly plan: ListenPlan
  readonly target: string
  /** Effective: as asked, or lowered by the descriptor limit (see `limits`). */
  readonly maxConnections: number
  readonly maxWaiting: number
  readonly limits: AdmissionLimits
  readonly backlog: number
  readonly maxAcceptsPerBatch: number
  readonly drop: boolean
  readonly policy: HandlerErrorPolicy<E>
  readonly shutdownGracePeriod: Duration.Duration
  /** Milliseconds, or `undefined` for none. */
  readonly idleTimeout: number | undefined
  readonly socket: SocketConfig
  readonly reader: ReaderConfig
  readonly writer: WriterConfig
  /** The `tls` option, validated; `undefined` for plaintext. */
  readonly tls: TlsServerConfig | undefined
}

const bindHost = (address: BindToAddress.BindToAddress | undefined): string | undefined => {
  switch (address?._tag) {
    case "AllAddresses":
      // No host: Node binds dual-stack `::` and falls back to `0.0.0.0` where IPv6 is off.
      return undefined
    case "Localhost":
      return "127.0.0.1"
    case "Address": {
      // An IP literal is bound as it is; a host name is handed to Node, which resolves it once
      // (`dns.lookup`) when the server listens and binds the first address.
      const ip: unknown = address.ip
      if (typeof ip === "string" && net.isIP(ip) !== 0) return ip
      if (typeof ip !== "string" || !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(ip) || ip.includes("..")) {
        return invalidArgument("address", `expected an IPv4 or IPv6 address or a host name, got ${show(ip)}`)
      }
      return ip
    }
    default:
      return invalidArgument("address", "expected a BindToAddress")
  }
}

const bindPort = (port: BindToPort.BindToPort | undefined): number => {
  switch (port?._tag) {
    case "OnPortChosenByOs":
      return 0
    case "OnPort":
      return checkPort("port", port.port)
    default:
      return invalidArgument("port", "expected a BindToPort")
  }
}

const listenPlan = (where: WhereToListen.WhereToListen | undefined): ListenPlan => {
  switch (where?._tag) {
    case "Inet":
      return { _tag: "Inet", host: bindHost(where.address), port: bindPort(where.port) }
    case "Unix":
      return { _tag: "Unix", path: checkUnixPath("path", where.path) }
    default:
      return invalidArgument("where", "expected a WhereToListen")
  }
}

const handlerErrorPolicy = <E>(input: unknown): HandlerErrorPolicy<E> => {
  if (input === undefined) return { _tag: "Log" }
  if (input === "ignore") return { _tag: "Ignore" }
  if (input === "raise") return { _tag: "Raise" }
  if (typeof input === "function") {
    return { _tag: "Call", f: input as (address: Address.Address, cause: Cause.Cause<E>) => Effect.Effect<void> }
  }
  return invalidArgument("onHandlerError", `expected "ignore", "raise" or a function, got ${show(input)}`)
}

/** `ServerOptions.shutdownGracePeriod`, checked (also used by `PlatformSocketServer`). */
export const checkShutdownGracePeriod = (input: unknown): Duration.Duration => {
  const millis = checkDuration("shutdownGracePeriod", input, defaults.shutdownGracePeriod)
  return millis === Infinity ? Duration.infinity : Duration.millis(millis)
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

/** What was asked, what is in force, and the descriptor limit that made them differ. */
export interface AdmissionLimits {
  readonly maxConnections: number
  readonly maxWaiting: number
  readonly askedMaxConnections: number
  readonly askedMaxWaiting: number
  readonly descriptorLimit: number | undefined
  /** Whether the descriptor limit lowered either bound. */
  readonly lowered: boolean
}

/**
 * `maxConnections` and `maxWaiting`, lowered so that handlers and held sockets (one descriptor
 * each) stay below the descriptor limit, less 64 for the rest of the program. The held queue
 * gets at most an eighth of that budget, handlers the rest, never fewer than 32 (a limit that
 * low is better met by EMFILE, which libuv survives, than by a server serving one client). The
 * kernel's `backlog` costs no descriptor and plays no part.
 */
export const admissionLimits = (
  askedMaxConnections: number,
  askedMaxWaiting: number,
  descriptorLimit: number | undefined
): AdmissionLimits => {
  if (descriptorLimit === undefined) {
    return {
      maxConnections: askedMaxConnections,
      maxWaiting: askedMaxWaiting,
      askedMaxConnections,
      askedMaxWaiting,
      descriptorLimit,
      lowered: false
    }
  }
  const budget = Math.max(0, descriptorLimit - reservedDescriptors)
  const maxWaiting = Math.min(askedMaxWaiting, Math.floor(budget / 8))
  const maxConnections = Math.min(
    askedMaxConnections,
    Math.max(minConnections, budget - maxWaiting)
  )
  return {
    maxConnections,
    maxWaiting,
    askedMaxConnections,
    askedMaxWaiting,
    descriptorLimit,
    lowered: maxConnections !== askedMaxConnections || maxWaiting !== askedMaxWaiting
  }
}

export const serverConfig = <E>(
  where: WhereToListen.WhereToListen,
  options: Server.ServerOptions<Address.Address, E> | undefined
): ServerConfig<E> => {
  checkOptions("options", options)
  const plan = listenPlan(where)
  const backlog = checkCount("backlog", options?.backlog, defaults.backlog)
  const limits = admissionLimits(
    checkSize("maxConnections", options?.maxConnections, defaults.maxConnections, true),
    checkCount("maxWaiting", options?.maxWaiting, defaults.maxWaiting),
    descriptorLimit()
  )
  const idle = checkDuration("idleTimeout", options?.idleTimeout, Duration.zero)
  const shutdownGracePeriod = checkShutdownGracePeriod(options?.shutdownGracePeriod)
  return {
    plan,
    target: WhereToListen.format(where),
    maxConnections: limits.maxConnections,
    maxWaiting: limits.maxWaiting,
    limits,
    backlog,
    maxAcceptsPerBatch: checkSize("maxAcceptsPerBatch", options?.maxAcceptsPerBatch, defaults.maxAcceptsPerBatch),
    drop: checkBoolean("dropIncomingConnections", options?.dropIncomingConnections, defaults.dropIncomingConnections),
    policy: handlerErrorPolicy(options?.onHandlerError),
    shutdownGracePeriod,
    idleTimeout: idle === 0 || idle === Infinity ? undefined : Math.max(1, timerMillis(idle)),
    socket: socketConfig(options),
    reader: readerConfig(options),
    writer: writerConfig(options),
    tls: options?.tls === undefined ? undefined : tlsServerConfig(options.tls)
  }
}
