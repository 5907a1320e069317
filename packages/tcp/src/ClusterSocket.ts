/**
 * `@effect/cluster` runners talking over effect-tcp: the drop-in replacement of
 * `@effect/platform-node`'s `NodeClusterSocket`. Swap one line:
 *
 * ```ts
 * // NodeClusterSocket.layer({ storage: "sql" })
 * ClusterSocket.layer({ storage: "sql" })
 * ```
 *
 * and the runners listen with an effect-tcp `Server` (its bounds, admission, idle timeout,
 * metrics and spans) and reach each other with effect-tcp connections.
 *
 * - {@link layerSocketServer}: the `SocketServer` a runner listens with, on
 *   `ShardingConfig.runnerListenAddress` (else `runnerAddress`) or on `listen.where`.
 * - {@link layerClientProtocol}: the `Runners.RpcClientProtocol`: one socket per runner address,
 *   **lazy** (`PlatformSocket.makeLazy`): nothing is dialed until a message is sent, and a runner
 *   that is down (refused, or no connection within the connect `timeout`, 1 second by default)
 *   fails the send with a socket error that `@effect/rpc` reports as an `RpcClientError`, so
 *   `@effect/cluster` retries and marks the runner unavailable instead of dying.
 * - {@link layer}: the whole runner (`Sharding`, `Runners`, storage, health checks by ping),
 *   as `NodeClusterSocket.layer` builds it. Kubernetes health checks (`runnerHealth: "k8s"`)
 *   need platform-node's HTTP client: compose `SocketRunner.layer` with the two layers above
 *   and `RunnerHealth.layerK8s` yourself.
 *
 * **Shutdown grace period.** Runners keep their connections to each other open (idle for up to
 * 3 minutes), so a graceful close that waits for connections to end would wait the whole grace
 * period every time a runner stops (effect-tcp's default is 10 seconds, against ~20 ms for
 * `NodeSocketServer`, which interrupts at once). By the time the transport is released,
 * `Sharding` has already stopped the runner's entities and the RPC server is gone, so there is
 * nothing left to finish but flushing what was written, which closing a connection does
 * anyway. The server here uses a grace period of 500 ms (`listen.server.shutdownGracePeriod`
 * to change it): long enough for replies already being written, short enough that stopping a
 * runner stays well under a second.
 *
 * This entry point needs the optional peer dependencies `@effect/cluster`, `@effect/rpc` and
 * `@effect/platform` (and `@effect/sql` for the SQL storage).
 *
 * @example
 * ```ts
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import { Layer, Redacted } from "effect"
 * import * as ClusterSocket from "effect-tcp/ClusterSocket"
 *
 * // A runner on port 34431 sharing a PostgreSQL runner storage with the others
 * const Runner = ClusterSocket.layer({
 *   storage: "sql",
 *   shardingConfig: { runnerAddress: { host: "10.0.0.5", port: 34431 } as never }
 * }).pipe(Layer.provide(PgClient.layer({ url: Redacted.make("postgres://cluster@db/cluster") })))
 * ```
 *
 * @since 0.2.0
 * @module
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import type * as Runners from "@effect/cluster/Runners"
import type * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type { Sharding } from "@effect/cluster/Sharding"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type * as SocketServer from "@effect/platform/SocketServer"
import type * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { ConfigError } from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import type { Inet } from "./Address.js"
import * as internal from "./internal/clusterSocket.js"
import type { ServerOptions } from "./Server.js"
import type { ConnectOptions } from "./Tcp.js"
import type { InvalidArgument, ListenError } from "./TcpError.js"
import type * as WhereToListen from "./WhereToListen.js"

/**
 * Where and how a runner listens.
 *
 * @since 0.2.0
 * @category models
 */
export interface ListenOptions {
  /**
   * Where to listen. Defaults to `ShardingConfig.runnerListenAddress`, else `runnerAddress`: an
   * IP address is bound as given, `localhost` as 127.0.0.1, any other name as every address.
   */
  readonly where?: WhereToListen.Inet | undefined
  /** The server's options. `shutdownGracePeriod` defaults to 500 ms here (see the module's docs). */
  readonly server?: ServerOptions<Inet, unknown> | undefined
}

/**
 * Options of {@link layer}: those of `NodeClusterSocket.layer` (but `runnerHealth`, always
 * `"ping"` here), plus effect-tcp's.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions<ClientOnly extends boolean, Storage extends "local" | "sql" | "byo"> {
  readonly serialization?: "msgpack" | "ndjson" | undefined
  readonly serializationMaxBufferSize?: number | "unbounded" | undefined
  /** A client that sends to entities but hosts none (no server). */
  readonly clientOnly?: ClientOnly | undefined
  /** `"sql"` (default: `SqlMessageStorage` and `SqlRunnerStorage` on the `SqlClient` provided), `"local"` (in memory, one process), `"byo"` (provide your own). */
  readonly storage?: Storage | undefined
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /** Where and how the runner listens. */
  readonly listen?: ListenOptions | undefined
  /** How runners connect to each other; `timeout` defaults to 1 second here. */
  readonly connect?: ConnectOptions | undefined
}

/**
 * The client protocol of `@effect/cluster`'s runners over effect-tcp: for each runner address,
 * an `@effect/rpc` socket protocol over a lazy effect-tcp socket (see the module's docs).
 * `options.timeout` (the connect timeout) defaults to 1 second, as `NodeClusterSocket`'s.
 *
 * Fails with: `InvalidArgument` when building, for bad options.
 *
 * @example
 * ```ts
 * import * as SocketRunner from "@effect/cluster/SocketRunner"
 * import { Layer } from "effect"
 * import * as ClusterSocket from "effect-tcp/ClusterSocket"
 *
 * const Transport = SocketRunner.layer.pipe(
 *   Layer.provide([ClusterSocket.layerSocketServer(), ClusterSocket.layerClientProtocol({ timeout: "2 seconds" })])
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClientProtocol: (
  options?: ConnectOptions
) => Layer.Layer<Runners.RpcClientProtocol, InvalidArgument, RpcSerialization.RpcSerialization> =
  internal.layerClientProtocol

/**
 * The `SocketServer` of a runner: an effect-tcp server (see `PlatformSocketServer`) on
 * `options.where`, else on `ShardingConfig.runnerListenAddress` or `runnerAddress`, with a
 * shutdown grace period of 500 ms unless `options.server` says otherwise.
 *
 * Fails with: `ListenError` (address in use, …), `InvalidArgument` (bad options, or no address
 * to listen on).
 *
 * @example
 * ```ts
 * import * as RunnerAddress from "@effect/cluster/RunnerAddress"
 * import * as ShardingConfig from "@effect/cluster/ShardingConfig"
 * import { Layer, Option } from "effect"
 * import * as ClusterSocket from "effect-tcp/ClusterSocket"
 *
 * // Listen on the runner's address, serving at most 500 peers at once
 * const Listen = ClusterSocket.layerSocketServer({ server: { maxConnections: 500 } }).pipe(
 *   Layer.provide(ShardingConfig.layer({ runnerAddress: Option.some(RunnerAddress.make("0.0.0.0", 34431)) }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSocketServer: (
  options?: ListenOptions
) => Layer.Layer<SocketServer.SocketServer, ListenError | InvalidArgument, ShardingConfig.ShardingConfig> =
  internal.layerSocketServer

/**
 * A whole runner over effect-tcp, as `NodeClusterSocket.layer` builds one: `Sharding` and
 * `Runners` from `SocketRunner`, health checks by ping, the storage chosen by `storage`, the
 * `ShardingConfig` from the environment and `shardingConfig`, and msgpack (or ndjson)
 * serialization.
 *
 * Fails with: `ListenError` / `InvalidArgument` (the server or the options), `ConfigError` (the
 * sharding configuration).
 *
 * @example
 * ```ts
 * import * as RunnerAddress from "@effect/cluster/RunnerAddress"
 * import { Option } from "effect"
 * import * as ClusterSocket from "effect-tcp/ClusterSocket"
 *
 * // One runner with in-memory storage (a single process: tests, development), on port 34431
 * const Runner = ClusterSocket.layer({
 *   storage: "local",
 *   shardingConfig: { runnerAddress: Option.some(RunnerAddress.make("localhost", 34431)) }
 * })
 *
 * // A client that only sends to entities hosted by the runners
 * const Client = ClusterSocket.layer({ clientOnly: true, storage: "local" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: <
  const ClientOnly extends boolean = false,
  const Storage extends "local" | "sql" | "byo" = never
>(
  options?: LayerOptions<ClientOnly, Storage>
) => ClientOnly extends true ? Layer.Layer<
    Sharding | Runners.Runners | ("byo" extends Storage ? never : MessageStorage.MessageStorage),
    InvalidArgument | ConfigError,
    "local" extends Storage ? never
      : "byo" extends Storage ? (MessageStorage.MessageStorage | RunnerStorage.RunnerStorage)
      : SqlClient
  > :
  Layer.Layer<
    Sharding | Runners.Runners | ("byo" extends Storage ? never : MessageStorage.MessageStorage),
    ListenError | InvalidArgument | ConfigError,
    "local" extends Storage ? never
      : "byo" extends Storage ? (MessageStorage.MessageStorage | RunnerStorage.RunnerStorage)
      : SqlClient
  > = internal.layer as never
