/**
 * Where a client connects: Async's `where_to_connect`. The type parameter says which kind of
 * address the connection will have (`Inet` or `Unix`), so a connection made from an inet target
 * has inet `localAddress`/`remoteAddress`, and an inet target never type-checks as a Unix one.
 *
 * Values are plain data (structural `Equal`) with a readable `toString`, so they can be logged.
 * Arguments are checked when connecting: a bad port or path fails `Tcp.connect` with
 * `InvalidArgument`, it never throws here.
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"
import type * as Types from "effect/Types"
import type { Inet, Unix } from "./Address.js"
import * as Address from "./Address.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("effect-tcp/WhereToConnect")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Options that bind the local end of an inet connection before it connects. Given alone,
 * `viaLocalPort` binds every local address on that port; `viaLocalInterface` alone binds that
 * IP on a port the OS chooses.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalBinding {
  readonly viaLocalInterface?: string | undefined
  readonly viaLocalPort?: number | undefined
}

/**
 * A host (IP literal or name, resolved at connect time) and a port.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostAndPort {
  readonly _tag: "HostAndPort"
  readonly host: string
  readonly port: number
  readonly viaLocalInterface: string | undefined
  readonly viaLocalPort: number | undefined
}

/**
 * An inet address: no name resolution.
 *
 * @since 0.1.0
 * @category models
 */
export interface InetAddress {
  readonly _tag: "InetAddress"
  readonly address: Inet
  readonly viaLocalInterface: string | undefined
  readonly viaLocalPort: number | undefined
}

/**
 * A Unix-domain stream socket path (`"\0name"` is a Linux abstract socket).
 *
 * @since 0.1.0
 * @category models
 */
export interface File {
  readonly _tag: "File"
  readonly path: string
}

/**
 * A Unix-domain socket address.
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixAddress {
  readonly _tag: "UnixAddress"
  readonly address: Unix
}

/**
 * The data of a target, without its type marker.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = HostAndPort | InetAddress | File | UnixAddress

/**
 * Where to connect, for connections whose addresses are of kind `A`.
 *
 * @since 0.1.0
 * @category models
 */
export type WhereToConnect<A extends Address.Address> = Target & {
  readonly [TypeId]: { readonly _A: Types.Covariant<A> }
  /** The target, e.g. `127.0.0.1:80`, `example.com:443` or `/run/app.sock`. */
  toString(): string
}

const variance = { _A: (_: never) => _ }

class WhereToConnectImpl extends Data.Structural<Record<string, unknown>> {
  readonly [TypeId] = variance
  declare readonly _tag: Target["_tag"]
  override toString(): string {
    return format(this as unknown as Target)
  }
  toJSON(): unknown {
    return { ...this, target: this.toString() }
  }
}

const make = <A extends Address.Address>(target: Target): WhereToConnect<A> =>
  new WhereToConnectImpl(target as unknown as Record<string, unknown>) as unknown as WhereToConnect<A>

/**
 * Connects to `host` (an IP literal, used as is, or a name resolved when connecting, IPv4 and
 * IPv6) on `port`. Async's `Tcp.Where_to_connect.of_host_and_port`.
 *
 * @example
 * ```ts
 * import { WhereToConnect } from "effect-tcp"
 * const target = WhereToConnect.hostAndPort("localhost", 6379, { viaLocalPort: 40000 })
 * String(target) // "localhost:6379"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const hostAndPort = (host: string, port: number, options?: LocalBinding): WhereToConnect<Inet> =>
  make({
    _tag: "HostAndPort",
    host,
    port,
    viaLocalInterface: options?.viaLocalInterface,
    viaLocalPort: options?.viaLocalPort
  })

/**
 * Connects to an inet address, with no name resolution.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inetAddress = (address: Inet, options?: LocalBinding): WhereToConnect<Inet> =>
  make({
    _tag: "InetAddress",
    address,
    viaLocalInterface: options?.viaLocalInterface,
    viaLocalPort: options?.viaLocalPort
  })

/**
 * Connects to the Unix-domain stream socket at `path`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const file = (path: string): WhereToConnect<Unix> => make({ _tag: "File", path })

/**
 * Connects to a Unix-domain socket address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unixAddress = (address: Unix): WhereToConnect<Unix> => make({ _tag: "UnixAddress", address })

/**
 * Renders a target for logs and error messages.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (target: Target): string => {
  try {
    return formatUnsafe(target)
  } catch {
    // A JavaScript caller's malformed target: connecting fails with InvalidArgument.
    return "<invalid target>"
  }
}

const formatUnsafe = (target: Target): string => {
  switch (target._tag) {
    case "HostAndPort": {
      // A bracketed IPv6 literal ("[::1]") is accepted as a host: format adds the brackets.
      const bare = target.host.startsWith("[") && target.host.endsWith("]") ? target.host.slice(1, -1) : target.host
      return Address.format({ _tag: "Inet", host: bare, port: target.port })
    }
    case "InetAddress":
      return Address.format(target.address)
    case "File":
      return Address.format({ _tag: "Unix", path: target.path })
    case "UnixAddress":
      return Address.format(target.address)
  }
}
