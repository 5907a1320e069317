/**
 * `@effect/cluster`'s runner transport over effect-tcp: the `SocketServer` runners listen with,
 * and the `RpcClientProtocol` they reach each other with (one lazy socket per runner address).
 *
 * @internal
 */
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { Socket } from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as net from "node:net"
import type { Inet } from "../Address.js"
import * as BindToAddress from "../BindToAddress.js"
import * as BindToPort from "../BindToPort.js"
import type * as ClusterSocket from "../ClusterSocket.js"
import type * as Server from "../Server.js"
import type * as Tcp from "../Tcp.js"
import { InvalidArgument, type ListenError } from "../TcpError.js"
import * as WhereToConnect from "../WhereToConnect.js"
import * as WhereToListen from "../WhereToListen.js"
import * as defaults from "./defaults.js"
import { makeLazy } from "./platformSocket.js"
import * as platformSocketServer from "./platformSocketServer.js"
import { checkConnect } from "./tcp.js"
import { checkBoolean, checkOptions, checkSize, invalidArgument, show, validate } from "./validate.js"

/** @internal */
export const layerClientProtocol = (
  connectOptions?: Tcp.ConnectOptions
): Layer.Layer<Runners.RpcClientProtocol, InvalidArgument, RpcSerialization.RpcSerialization> =>
  Layer.effect(
    Runners.RpcClientProtocol,
    Effect.gen(function*() {
      yield* validate(() => checkOptions("options", connectOptions))
      const connect: Tcp.ConnectOptions = { timeout: defaults.runnerConnectTimeout, ...connectOptions }
      // The options are the same for every runner: bad ones fail the Layer, not each message.
      yield* checkConnect(WhereToConnect.hostAndPort("localhost", 1), connect)
      const serialization = yield* RpcSerialization.RpcSerialization
      return (address) =>
        Effect.flatMap(
          // A bad runner address (from storage) is a defect, as with NodeClusterSocket.
          Effect.orDie(makeLazy(WhereToConnect.hostAndPort(address.host, address.port), connect)),
          (socket) =>
            RpcClient.makeProtocolSocket().pipe(
              Effect.provideService(Socket, socket),
              Effect.provideService(RpcSerialization.RpcSerialization, serialization)
            )
        )
    })
  )

/** Where a runner listens when told a host name and port: an IP as itself, `localhost` as the loopback, any other name as every address. */
const whereOf = (host: string, port: number): WhereToListen.WhereToListen =>
  net.isIP(host) !== 0
    ? WhereToListen.bindTo(BindToAddress.Address(host), BindToPort.OnPort(port))
    : host === "localhost"
    ? WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(port))
    : WhereToListen.onPort(port)

/** `ListenOptions`, checked as far as the server does not check them itself. */
const checkListen = (argument: string, options: unknown): void => {
  checkOptions(argument, options)
  const { server, where } = (options ?? {}) as ClusterSocket.ListenOptions
  if (where !== undefined && (typeof where !== "object" || where === null || where._tag !== "Inet")) {
    invalidArgument(`${argument}.where`, `expected a WhereToListen.Inet, got ${show(where)}`)
  }
  checkOptions(`${argument}.server`, server)
}

/** @internal */
export const layerSocketServer = (
  listenOptions?: ClusterSocket.ListenOptions
): Layer.Layer<SocketServer.SocketServer, ListenError | InvalidArgument, ShardingConfig.ShardingConfig> =>
  Layer.scoped(
    SocketServer.SocketServer,
    Effect.gen(function*() {
      yield* validate(() => checkListen("options", listenOptions))
      const config = yield* ShardingConfig.ShardingConfig
      const where = listenOptions?.where ??
        Option.match(Option.orElse(config.runnerListenAddress, () => config.runnerAddress), {
          onNone: () => undefined,
          onSome: (address) => whereOf(address.host, address.port)
        })
      if (where === undefined) {
        return yield* new InvalidArgument({
          argument: "where",
          message: "where: no listen.where, and ShardingConfig has neither runnerListenAddress nor runnerAddress"
        })
      }
      const server: Server.ServerOptions<Inet, unknown> = {
        shutdownGracePeriod: defaults.runnerShutdownGracePeriod,
        ...listenOptions?.server
      }
      return yield* platformSocketServer.make(where as WhereToListen.Inet, server)
    })
  )

/** The options of `layer` that no part of it checks by itself. */
const checkLayer = (opts: ClusterSocket.LayerOptions<boolean, "local" | "sql" | "byo"> | undefined): void => {
  checkOptions("options", opts)
  const o = opts ?? {}
  if (o.serialization !== undefined && o.serialization !== "msgpack" && o.serialization !== "ndjson") {
    invalidArgument("serialization", `expected "msgpack" or "ndjson", got ${show(o.serialization)}`)
  }
  if (o.serializationMaxBufferSize !== "unbounded") {
    checkSize("serializationMaxBufferSize", o.serializationMaxBufferSize, 1)
  }
  checkBoolean("clientOnly", o.clientOnly, false)
  if (o.storage !== undefined && o.storage !== "local" && o.storage !== "sql" && o.storage !== "byo") {
    invalidArgument("storage", `expected "local", "sql" or "byo", got ${show(o.storage)}`)
  }
  checkOptions("shardingConfig", o.shardingConfig)
  checkListen("listen", o.listen)
  checkOptions("connect", o.connect)
}

/** @internal */
export const layer = (
  opts?: ClusterSocket.LayerOptions<boolean, "local" | "sql" | "byo">
): Layer.Layer<any, any, any> =>
  // Checked when the Layer is built: a wrong option fails it with InvalidArgument.
  Layer.unwrapEffect(Effect.as(validate(() => checkLayer(opts)), Layer.suspend(() => build(opts))))

const build = (
  opts: ClusterSocket.LayerOptions<boolean, "local" | "sql" | "byo"> | undefined
): Layer.Layer<any, any, any> => {
  const clientProtocol = layerClientProtocol(opts?.connect)
  const transport: Layer.Layer<any, any, any> = opts?.clientOnly
    ? Layer.provide(SocketRunner.layerClientOnly, clientProtocol)
    : Layer.provide(SocketRunner.layer, [layerSocketServer(opts?.listen), clientProtocol])
  const health: Layer.Layer<any, any, any> = opts?.clientOnly
    ? Layer.empty as unknown as Layer.Layer<any, any, any>
    : RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))
  const storage = opts?.storage
  return transport.pipe(
    Layer.provide(health),
    Layer.provideMerge(
      storage === "local"
        ? MessageStorage.layerNoop
        : storage === "byo"
        ? Layer.empty
        : Layer.orDie(SqlMessageStorage.layer)
    ),
    Layer.provide(
      storage === "local"
        ? RunnerStorage.layerMemory
        : storage === "byo"
        ? Layer.empty
        : Layer.orDie(SqlRunnerStorage.layer)
    ),
    Layer.provide(ShardingConfig.layerFromEnv(opts?.shardingConfig)),
    Layer.provide(
      opts?.serialization === "ndjson"
        ? RpcSerialization.layerNdjsonWith({ maxBufferSize: opts?.serializationMaxBufferSize })
        : RpcSerialization.layerMsgPackWith({ maxBufferSize: opts?.serializationMaxBufferSize })
    )
  )
}
