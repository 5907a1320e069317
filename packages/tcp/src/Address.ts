/**
 * Socket addresses: an inet host and port, or a Unix-domain socket path. Plain data with
 * structural `Equal`/`Hash`, so two addresses with the same fields are equal.
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"

/**
 * An IPv4 or IPv6 host and a port. IPv4-mapped IPv6 hosts (`::ffff:127.0.0.1`) are reported as
 * plain IPv4 and IPv6 hosts are normalised (lower case, shortest form, zone id kept), so
 * addresses compare equal when they name the same endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inet {
  readonly _tag: "Inet"
  readonly host: string
  readonly port: number
}

/**
 * A Unix-domain socket path. The empty path is the unnamed end of a connection (a client that
 * did not bind); a path starting with `"\0"` is a Linux abstract socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unix {
  readonly _tag: "Unix"
  readonly path: string
}

/**
 * Either kind of socket address.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = Inet | Unix

const makeInet = Data.tagged<Inet>("Inet")
const makeUnix = Data.tagged<Unix>("Unix")

/**
 * Makes an inet address; the host is normalised (see {@link Inet}).
 *
 * @example
 * ```ts
 * import { Address } from "effect-tcp"
 * Address.inet("::FFFF:127.0.0.1", 80) // { _tag: "Inet", host: "127.0.0.1", port: 80 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const inet = (host: string, port: number): Inet => makeInet({ host: normalizeHost(host), port })

/**
 * Makes a Unix-domain socket address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unix = (path: string): Unix => makeUnix({ path })

/**
 * Whether an address is an inet address.
 *
 * @since 0.1.0
 * @category guards
 */
export const isInet = (address: Address): address is Inet => address._tag === "Inet"

/**
 * Whether an address is a Unix-domain socket address.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnix = (address: Address): address is Unix => address._tag === "Unix"

/**
 * Renders an address for logs: `127.0.0.1:80`, `[::1]:80`, or the path.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: Address): string =>
  address._tag === "Unix"
    ? (address.path.startsWith("\0") ? `@${address.path.slice(1)}` : address.path)
    : address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`

/**
 * Normalises an IP literal: IPv4-mapped IPv6 becomes IPv4, IPv6 takes its canonical RFC 5952
 * form (lower case, longest zero run compressed) with any zone id kept. Anything that is not an
 * IPv6 literal (IPv4, host names) is returned unchanged.
 *
 * @since 0.1.0
 * @category formatting
 */
export const normalizeHost = (host: string): string => {
  if (!host.includes(":")) return host
  const zoneAt = host.indexOf("%")
  const zone = zoneAt === -1 ? "" : host.slice(zoneAt)
  const groups = parseIpv6(zoneAt === -1 ? host : host.slice(0, zoneAt))
  if (groups === undefined) return host
  // parseIpv6 returns exactly 8 groups
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number]
  if (
    g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 &&
    g5 === 0xffff && zone === ""
  ) {
    return `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`
  }
  return formatIpv6(groups) + zone
}

const parseIpv6 = (text: string): Array<number> | undefined => {
  const halves = text.toLowerCase().split("::")
  if (halves.length > 2) return undefined
  const parseHalf = (half: string): Array<number> | undefined => {
    if (half === "") return []
    const out: Array<number> = []
    const parts = half.split(":")
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (i === parts.length - 1 && part.includes(".")) {
        const octets = part.split(".").map(Number)
        if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined
        out.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!)
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(part)) return undefined
        out.push(parseInt(part, 16))
      }
    }
    return out
  }
  const head = parseHalf(halves[0]!)
  const tail = halves.length === 2 ? parseHalf(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  return [...head, ...Array<number>(missing).fill(0), ...tail]
}

const formatIpv6 = (groups: ReadonlyArray<number>): string => {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(":")
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`
}
