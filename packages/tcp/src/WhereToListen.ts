/**
 * Where a server listens: Async's `Tcp.Where_to_listen`. An inet address and port, or a
 * Unix-domain socket path.
 *
 * Values are plain data (structural `Equal`/`Hash`). Arguments are checked when the server
 * starts: a bad port, IP or path fails `Server.make` with `InvalidArgument`; the constructors
 * here never throw.
 *
 * The kind of `WhereToListen` decides the types of the server made from it: an `Inet` server
 * listens on a port (`listeningOn: number`, connections with `Address.Inet` addresses), a `Unix`
 * server on a path (`listeningOn: string`, `Address.Unix` addresses).
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"
import * as Address from "./Address.js"
import * as BindToAddress from "./BindToAddress.js"
import * as BindToPort from "./BindToPort.js"

/**
 * Listen on an inet address and port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inet {
  readonly _tag: "Inet"
  readonly address: BindToAddress.BindToAddress
  readonly port: BindToPort.BindToPort
}

/**
 * Listen on a Unix-domain stream socket at `path` (`"\0name"` is a Linux abstract socket, which
 * has no file). The server removes its socket file when it closes and replaces a stale one left
 * by a dead process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unix {
  readonly _tag: "Unix"
  readonly path: string
}

/**
 * Where a server listens.
 *
 * @since 0.1.0
 * @category models
 */
export type WhereToListen = Inet | Unix

const makeInet = Data.tagged<Inet>("Inet")
const makeUnix = Data.tagged<Unix>("Unix")

/**
 * Listens on `address` and `port`.
 *
 * @example
 * ```ts
 * import { BindToAddress, BindToPort, WhereToListen } from "effect-tcp"
 * const where = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bindTo = (address: BindToAddress.BindToAddress, port: BindToPort.BindToPort): Inet =>
  makeInet({ address, port })

/**
 * Listens on `port`, on every address (IPv4 and IPv6).
 *
 * @since 0.1.0
 * @category constructors
 */
export const onPort = (port: number): Inet => bindTo(BindToAddress.AllAddresses, BindToPort.OnPort(port))

/**
 * Listens on a port the OS chooses, on every address (IPv4 and IPv6).
 *
 * @since 0.1.0
 * @category constructors
 */
export const onPortChosenByOs: Inet = bindTo(BindToAddress.AllAddresses, BindToPort.OnPortChosenByOs)

/**
 * Listens on the Unix-domain socket at `path` (at most 107 UTF-8 bytes on Linux).
 *
 * @since 0.1.0
 * @category constructors
 */
export const onFile = (path: string): Unix => makeUnix({ path })

/**
 * Whether a `WhereToListen` is inet.
 *
 * @since 0.1.0
 * @category guards
 */
export const isInet = (where: WhereToListen): where is Inet => where._tag === "Inet"

/**
 * Whether a `WhereToListen` is a Unix-domain socket.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnix = (where: WhereToListen): where is Unix => where._tag === "Unix"

/**
 * Renders where a server listens, for logs: `127.0.0.1:8080`, `[::]:0` (0 when the OS chooses
 * the port) or the path.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (where: WhereToListen): string =>
  where._tag === "Unix"
    ? Address.format({ _tag: "Unix", path: where.path })
    : Address.format({
      _tag: "Inet",
      host: BindToAddress.format(where.address),
      port: BindToPort.toNumber(where.port)
    })
