/**
 * Name resolution for `WhereToConnect.hostAndPort`, as a service in the Effect context. The
 * system resolver (`getaddrinfo` through `dns.lookup`, so `/etc/hosts` and DNS as configured) is
 * used when no `Resolver` is provided; a Layer can replace it, for tests or service discovery.
 *
 * IP literals never reach the resolver.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resolver, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // "db.internal" resolves to loopback in this program only
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("db.internal", 5432), () => Effect.void)
 *   .pipe(Effect.provide(Resolver.layerStatic({ "db.internal": ["127.0.0.1"] })))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as dns from "node:dns"
import * as net from "node:net"
import { resolveReason } from "./internal/errno.js"
import { checkHost, invalidArgument, show, validate } from "./internal/validate.js"
import type { InvalidArgument } from "./TcpError.js"

/**
 * One address a name resolved to.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/**
 * A name could not be resolved. `reason` `"HostNotFound"` becomes a `ConnectError`
 * `"HostNotFound"`; anything else a `ConnectError` `"Unknown"`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResolveError extends Data.TaggedError("ResolveError")<{
  readonly host: string
  readonly reason: "HostNotFound" | "Unknown"
  readonly cause?: unknown
}> {}

/**
 * What a resolver does: the service behind the {@link Resolver} tag.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Every address `host` resolves to (restricted to one family when given), in the order the
   * resolver prefers. Interrupting it stops the wait, not necessarily the lookup.
   *
   * Fails with: `ResolveError`; `InvalidArgument` (the resolvers of this module) for a `host`
   * that is not a non-empty string without NUL, or a `family` other than 4, 6 or `undefined`.
   */
  readonly lookup: (
    host: string,
    family: 4 | 6 | undefined
  ) => Effect.Effect<ReadonlyArray<ResolvedAddress>, ResolveError | InvalidArgument>
}

/** The arguments of a lookup, checked: JavaScript callers may pass anything. */
const checkLookup = (host: unknown, family: unknown): Effect.Effect<void, InvalidArgument> =>
  validate(() => {
    checkHost("host", host)
    if (family !== undefined && family !== 4 && family !== 6) {
      invalidArgument("family", `expected 4, 6 or undefined, got ${show(family)}`)
    }
  })

/**
 * The system resolver: `dns.lookup` with `all: true`, in the order the system returns.
 *
 * Fails with: `ResolveError` (`HostNotFound`, …).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resolver } from "effect-tcp"
 *
 * // What a connect to "localhost" would try, in order
 * const program = Resolver.system.lookup("localhost", undefined).pipe(
 *   Effect.tap((addresses) => Effect.log(addresses.map((a) => `${a.address} (IPv${a.family})`).join(", ")))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const system: Service = {
  lookup: (host, family) =>
    Effect.zipRight(
      checkLookup(host, family),
      Effect.async<ReadonlyArray<ResolvedAddress>, ResolveError>((resume) => {
        dns.lookup(host, { all: true, family: family ?? 0 }, (error, addresses) => {
          if (error) {
            resume(Effect.fail(new ResolveError({ host, reason: resolveReason(error), cause: error })))
          } else {
            resume(Effect.succeed(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))))
          }
        })
      })
    )
}

/**
 * The resolver that connects use: a `Context.Reference` whose default is {@link system}, so
 * nothing needs to provide it; provide another one (`layerStatic`, your own) to replace it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Resolver extends Context.Reference<Resolver>()("effect-tcp/Resolver", {
  defaultValue: (): Service => system
}) {}

/**
 * Provides the system resolver explicitly: for a part of a program that must resolve names for
 * real although an outer Layer replaced the resolver.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resolver, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // The tests pin "api.example" to loopback; the health check still asks the system.
 * const healthCheck = Tcp.withConnection(WhereToConnect.hostAndPort("status.example.org", 443), () => Effect.void)
 *   .pipe(Effect.provide(Resolver.layerSystem))
 * const program = Effect.all([
 *   Tcp.withConnection(WhereToConnect.hostAndPort("api.example", 8080), () => Effect.void),
 *   healthCheck
 * ]).pipe(Effect.provide(Resolver.layerStatic({ "api.example": ["127.0.0.1"] })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSystem: Layer.Layer<Resolver> = Layer.succeed(Resolver, system)

/**
 * A resolver from a fixed table of names to IP literals; any other name is `HostNotFound`.
 * For tests and for pinning names without touching `/etc/hosts`.
 *
 * Fails with: `InvalidArgument` when building, for a `table` that is not an object of arrays of
 * IP literals (the table is copied then: later changes to it are not seen).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resolver, Tcp, WhereToConnect } from "effect-tcp"
 *
 * // Both addresses of "cache" are tried in order (IPv6 first here); "other" is HostNotFound.
 * const program = Tcp.withConnection(WhereToConnect.hostAndPort("cache", 6379), (connection) =>
 *   connection.writer.writeLine("PING")
 * ).pipe(Effect.provide(Resolver.layerStatic({ cache: ["::1", "127.0.0.1"] })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (
  table: Readonly<Record<string, ReadonlyArray<string>>>
): Layer.Layer<Resolver, InvalidArgument> =>
  Layer.effect(
    Resolver,
    Effect.map(validate(() => staticTable(table)), (entries): Service => ({
      lookup: (host, family) =>
        Effect.zipRight(
          checkLookup(host, family),
          Effect.suspend(() => {
            const found = (entries.get(host) ?? []).filter((a) => family === undefined || a.family === family)
            return found.length === 0
              ? Effect.fail(new ResolveError({ host, reason: "HostNotFound", cause: `${host} is not in the table` }))
              : Effect.succeed(found)
          })
        )
    }))
  )

const staticTable = (table: unknown): ReadonlyMap<string, ReadonlyArray<ResolvedAddress>> => {
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    invalidArgument("table", `expected an object of host names to IP addresses, got ${show(table)}`)
  }
  const entries = new Map<string, ReadonlyArray<ResolvedAddress>>()
  for (const [host, addresses] of Object.entries(table as Record<string, unknown>)) {
    const at = `table[${JSON.stringify(host.length > 40 ? host.slice(0, 40) + "…" : host)}]`
    if (!Array.isArray(addresses)) invalidArgument(at, `expected an array of IP addresses, got ${show(addresses)}`)
    entries.set(
      host,
      (addresses as ReadonlyArray<unknown>).map((address): ResolvedAddress => {
        const family = typeof address === "string" ? net.isIP(address) : 0
        if (family === 0) invalidArgument(at, `expected IP addresses, got ${show(address)}`)
        return { address: address as string, family: family === 6 ? 6 : 4 }
      })
    )
  }
  return entries
}

const familyOf = (address: unknown): unknown =>
  typeof address === "object" && address !== null ? (address as ResolvedAddress).family : undefined

/**
 * Orders addresses for connecting, IPv6 and IPv4 interleaved starting with the family of the
 * first one (RFC 8305 §4), as Node's `autoSelectFamily` does. Never throws: a value that is not
 * an array (from JavaScript) is returned as it is, and elements are grouped by whatever `family`
 * they have.
 *
 * @since 0.1.0
 * @category utils
 */
export const interleaveFamilies = (addresses: ReadonlyArray<ResolvedAddress>): ReadonlyArray<ResolvedAddress> => {
  if (!Array.isArray(addresses) || addresses.length < 2) return addresses
  const first = familyOf(addresses[0])
  const same = addresses.filter((a) => familyOf(a) === first)
  const other = addresses.filter((a) => familyOf(a) !== first)
  const out: Array<ResolvedAddress> = []
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]!)
    if (i < other.length) out.push(other[i]!)
  }
  return out
}
