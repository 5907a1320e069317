/**
 * An `@effect/rpc` service over effect-tcp: a small key-value store with a streaming call.
 *
 * The server is `RpcServer.layerProtocolSocketServer` on `PlatformSocketServer.layer` (so
 * effect-tcp's server options apply to it); the client is `RpcClient.layerProtocolSocket` on
 * `PlatformSocket.layer`. Messages are newline-delimited JSON.
 *
 * Run: `pnpm --filter @effect-tcp/examples rpc`
 */
import { NodeRuntime } from "@effect/platform-node"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Console, Effect, Layer, Ref, Schema, Stream } from "effect"
import { BindToAddress, BindToPort, WhereToConnect, WhereToListen } from "effect-tcp"
import * as PlatformSocket from "effect-tcp/PlatformSocket"
import * as PlatformSocketServer from "effect-tcp/PlatformSocketServer"

class KeyNotFound extends Schema.TaggedError<KeyNotFound>()("KeyNotFound", { key: Schema.String }) {}

/** The service: its calls and their schemas, shared by server and client. */
class Store extends RpcGroup.make(
  Rpc.make("Put", { payload: { key: Schema.String, value: Schema.String } }),
  Rpc.make("Get", { payload: { key: Schema.String }, success: Schema.String, error: KeyNotFound }),
  Rpc.make("Entries", { success: Schema.Tuple(Schema.String, Schema.String), stream: true })
) {}

const StoreHandlers = Store.toLayer(Effect.gen(function*() {
  const entries = yield* Ref.make(new Map<string, string>())
  return {
    Put: ({ key, value }) => Ref.update(entries, (map) => new Map(map).set(key, value)),
    Get: ({ key }) =>
      Effect.flatMap(Ref.get(entries), (map) => {
        const value = map.get(key)
        return value === undefined ? Effect.fail(new KeyNotFound({ key })) : Effect.succeed(value)
      }),
    Entries: () => Stream.unwrap(Effect.map(Ref.get(entries), (map) => Stream.fromIterable([...map.entries()])))
  }
}))

/** The server, listening on 127.0.0.1 and a port the OS chooses; it keeps SocketServer in its output. */
const ServerLive = RpcServer.layer(Store).pipe(
  Layer.provide(StoreHandlers),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provideMerge(
    PlatformSocketServer.layer(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs), {
      maxConnections: 100,
      shutdownGracePeriod: "1 second"
    })
  ),
  Layer.provide(RpcSerialization.layerNdjson)
)

const ClientProtocol = (port: number) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(PlatformSocket.layer(WhereToConnect.hostAndPort("127.0.0.1", port))),
    Layer.provide(RpcSerialization.layerNdjson)
  )

const useStore = Effect.gen(function*() {
  const store = yield* RpcClient.make(Store)
  yield* store.Put({ key: "language", value: "TypeScript" })
  yield* store.Put({ key: "library", value: "effect-tcp" })
  yield* Console.log(`Get library -> ${yield* store.Get({ key: "library" })}`)
  const missing = yield* Effect.flip(store.Get({ key: "nothing" }))
  yield* Console.log(
    `Get nothing -> ${missing._tag === "KeyNotFound" ? `KeyNotFound(${missing.key})` : String(missing)}`
  )
  yield* Stream.runForEach(store.Entries(), ([key, value]) => Console.log(`entry ${key} = ${value}`))
}).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  const { address } = yield* SocketServer.SocketServer
  const port = address._tag === "TcpAddress" ? address.port : 0
  yield* Console.log(`rpc server listening on 127.0.0.1:${port}`)
  yield* useStore.pipe(Effect.provide(ClientProtocol(port)))
  yield* Console.log("rpc: done")
})

program.pipe(Effect.provide(ServerLive), NodeRuntime.runMain)
