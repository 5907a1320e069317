/**
 * Which local address a server binds: Async's `Tcp.Bind_to_address`.
 *
 * Values are plain data (`Data.TaggedEnum`, structural `Equal`/`Hash`). The IP of `Address` is
 * checked when the server starts: anything but an IPv4 or IPv6 literal or a host name fails
 * `Server.make` with `InvalidArgument`; these constructors never throw.
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"

/**
 * Where a server listens, address-wise: one IP (`Address`), every IPv4 and IPv6 address of the
 * host (`AllAddresses`), or the IPv4 loopback (`Localhost`, 127.0.0.1).
 *
 * @since 0.1.0
 * @category models
 */
export type BindToAddress = Data.TaggedEnum<{
  /**
   * One IPv4 or IPv6 address (`"10.0.0.1"`, `"::1"`, `"fe80::1%eth0"`), or a host name
   * (`"localhost"`), resolved once when the server starts listening.
   */
  Address: { readonly ip: string }
  /** Every address: dual-stack `::`, falling back to `0.0.0.0` where IPv6 is off. */
  AllAddresses: {}
  /** The IPv4 loopback address, 127.0.0.1. */
  Localhost: {}
}>

/**
 * One IP address.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = Data.TaggedEnum.Value<BindToAddress, "Address">

/**
 * Every IPv4 and IPv6 address of the host.
 *
 * @since 0.1.0
 * @category models
 */
export type AllAddresses = Data.TaggedEnum.Value<BindToAddress, "AllAddresses">

/**
 * The IPv4 loopback address.
 *
 * @since 0.1.0
 * @category models
 */
export type Localhost = Data.TaggedEnum.Value<BindToAddress, "Localhost">

const ctor = Data.taggedEnum<BindToAddress>()

/**
 * Binds one IP address (IPv4 or IPv6 literal; an IPv6 zone id is allowed), or the address a host
 * name resolves to: a name (`"localhost"`, a name from a configuration file) is resolved once,
 * when the server starts listening, by the system resolver (`dns.lookup`), and the server binds
 * the first address it gets (`server.listeningOnAddress` says which; for every address of a name
 * run one server per address). An IP literal is never resolved. A name that does not resolve fails
 * `Server.make` with `ListenError` `"HostNotFound"`.
 *
 * @example
 * ```ts
 * import { BindToAddress, BindToPort, WhereToListen } from "effect-tcp"
 * const where = WhereToListen.bindTo(BindToAddress.Address("::1"), BindToPort.OnPort(8080))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Address = (ip: string): Address => ctor.Address({ ip })

/**
 * Binds every address: dual-stack `::` (IPv4 clients arrive as IPv4-mapped addresses and are
 * reported as plain IPv4), falling back to `0.0.0.0` where IPv6 is off.
 *
 * @since 0.1.0
 * @category constructors
 */
export const AllAddresses: AllAddresses = ctor.AllAddresses()

/**
 * Binds the IPv4 loopback address, 127.0.0.1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Localhost: Localhost = ctor.Localhost()

/**
 * Whether a value is a given variant: `BindToAddress.$is("Localhost")(a)`.
 *
 * @since 0.1.0
 * @category guards
 */
export const $is = ctor.$is

/**
 * Pattern-matches the variants.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const $match = ctor.$match

/**
 * The host a server binds for this address, for logs: the IP, `::` for every address,
 * `127.0.0.1` for the loopback.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: BindToAddress): string =>
  address._tag === "Address" ? address.ip : address._tag === "AllAddresses" ? "::" : "127.0.0.1"
