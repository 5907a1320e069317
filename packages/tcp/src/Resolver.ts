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
import { resolveReason } from "./internal/errno.js"

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
   */
  readonly lookup: (
    host: string,
    family: 4 | 6 | undefined
  ) => Effect.Effect<ReadonlyArray<ResolvedAddress>, ResolveError>
}

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
    Effect.async<ReadonlyArray<ResolvedAddress>, ResolveError>((resume) => {
      dns.lookup(host, { all: true, family: family ?? 0 }, (error, addresses) => {
        if (error) {
          resume(Effect.fail(new ResolveError({ host, reason: resolveReason(error), cause: error })))
        } else {
          resume(Effect.succeed(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))))
        }
      })
    })
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
export const layerStatic = (table: Readonly<Record<string, ReadonlyArray<string>>>): Layer.Layer<Resolver> =>
  Layer.succeed(Resolver, {
    lookup: (host, family) =>
      Effect.suspend(() => {
        const entries = (Object.hasOwn(table, host) ? table[host]! : [])
          .map((address): ResolvedAddress => ({ address, family: address.includes(":") ? 6 : 4 }))
          .filter((a) => family === undefined || a.family === family)
        return entries.length === 0
          ? Effect.fail(new ResolveError({ host, reason: "HostNotFound", cause: `${host} is not in the table` }))
          : Effect.succeed(entries)
      })
  })

/**
 * Orders addresses for connecting, IPv6 and IPv4 interleaved starting with the family of the
 * first one (RFC 8305 §4), as Node's `autoSelectFamily` does.
 *
 * @since 0.1.0
 * @category utils
 */
export const interleaveFamilies = (addresses: ReadonlyArray<ResolvedAddress>): ReadonlyArray<ResolvedAddress> => {
  if (addresses.length < 2) return addresses
  const first = addresses[0]!.family
  const same = addresses.filter((a) => a.family === first)
  const other = addresses.filter((a) => a.family !== first)
  const out: Array<ResolvedAddress> = []
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]!)
    if (i < other.length) out.push(other[i]!)
  }
  return out
}
