/**
 * `@effect/rpc` over effect-tcp, through the public adapters only: `PlatformSocketServer.layer`
 * under `RpcServer.layerProtocolSocketServer`, `PlatformSocket.layer` under
 * `RpcClient.layerProtocolSocket`, with newline-delimited JSON.
 */
import * as SocketServer from "@effect/platform/SocketServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import { BindToAddress, BindToPort, WhereToConnect, WhereToListen } from "../src/index.js"
import * as PlatformSocket from "../src/PlatformSocket.js"
import * as PlatformSocketServer from "../src/PlatformSocketServer.js"
import { tempDir } from "./utils/tempDir.js"

class MathRpcs extends RpcGroup.make(
  Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
  Rpc.make("Divide", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: Schema.String }),
  Rpc.make("Count", { payload: { to: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String })
) {}

const HandlersLive = MathRpcs.toLayer({
  Add: ({ a, b }) => Effect.succeed(a + b),
  Divide: ({ a, b }) => b === 0 ? Effect.fail("division by zero") : Effect.succeed(a / b),
  Count: ({ to }) => Stream.range(1, to),
  Echo: ({ text }) => Effect.succeed(text)
})

/** The RPC server over effect-tcp; its output keeps the SocketServer, for the address. */
const serverLayer = (where: WhereToListen.WhereToListen) =>
  RpcServer.layer(MathRpcs).pipe(
    Layer.provide(HandlersLive),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provideMerge(PlatformSocketServer.layer(where, { shutdownGracePeriod: "500 millis" })),
    Layer.provide(RpcSerialization.layerNdjson)
  )

const clientProtocol = <A extends import("../src/Address.js").Address>(where: WhereToConnect.WhereToConnect<A>) =>
  RpcClient.layerProtocolSocket({ retryTransientErrors: true, retrySchedule: Schedule.spaced("50 millis") }).pipe(
    Layer.provide(PlatformSocket.layer(where)),
    Layer.provide(RpcSerialization.layerNdjson)
  )

/** A few calls and a stream, as one client. */
const exchange = Effect.gen(function*() {
  const client = yield* RpcClient.make(MathRpcs)
  const sum = yield* client.Add({ a: 1, b: 2 })
  const failure = yield* Effect.flip(client.Divide({ a: 1, b: 0 }))
  const quotient = yield* client.Divide({ a: 10, b: 4 })
  const counted = yield* Stream.runCollect(client.Count({ to: 2_000 }))
  const echoes = yield* Effect.forEach(
    Array.from({ length: 50 }, (_, i) => `message ${i} ${"x".repeat(i * 100)}`),
    (text) => client.Echo({ text }),
    { concurrency: "unbounded" }
  )
  return { sum, failure, quotient, counted: Chunk.toArray(counted), echoes }
})

const check = (result: Effect.Effect.Success<typeof exchange>) => {
  assert.strictEqual(result.sum, 3)
  assert.strictEqual(result.failure, "division by zero")
  assert.strictEqual(result.quotient, 2.5)
  assert.strictEqual(result.counted.length, 2_000)
  assert.deepStrictEqual(result.counted.slice(0, 3), [1, 2, 3])
  assert.strictEqual(result.counted[1_999], 2_000)
  assert.strictEqual(result.echoes.length, 50)
  result.echoes.forEach((echo, i) => assert.strictEqual(echo, `message ${i} ${"x".repeat(i * 100)}`))
}

const runClient = <A extends import("../src/Address.js").Address>(where: WhereToConnect.WhereToConnect<A>) =>
  exchange.pipe(Effect.scoped, Effect.provide(clientProtocol(where)))

describe("@effect/rpc over effect-tcp", () => {
  it.scopedLive("calls and a stream over TCP", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        serverLayer(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs))
      )
      const address = Context.get(context, SocketServer.SocketServer).address
      assert.strictEqual(address._tag, "TcpAddress")
      const port = address._tag === "TcpAddress" ? address.port : 0
      const where = WhereToConnect.hostAndPort("127.0.0.1", port)
      check(yield* runClient(where))
      // Several clients at once.
      const results = yield* Effect.all([runClient(where), runClient(where), runClient(where)], {
        concurrency: "unbounded"
      })
      results.forEach(check)
    }))

  it.scopedLive("calls and a stream over a Unix socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "rpc.sock")
      yield* Layer.build(serverLayer(WhereToListen.onFile(file)))
      check(yield* runClient(WhereToConnect.file(file)))
    }))

  it.scopedLive("the client reconnects when the server comes back", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "rpc.sock")
      const first = yield* Scope.make()
      yield* Scope.extend(Layer.build(serverLayer(WhereToListen.onFile(file))), first)
      const protocol = yield* Layer.build(clientProtocol(WhereToConnect.file(file)))
      const client = yield* RpcClient.make(MathRpcs).pipe(Effect.provide(protocol))
      assert.strictEqual(yield* client.Add({ a: 1, b: 1 }), 2)
      yield* Scope.close(first, Exit.void)
      yield* Layer.build(serverLayer(WhereToListen.onFile(file)))
      const again = yield* client.Add({ a: 2, b: 2 }).pipe(
        Effect.retry(Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(100)))
      )
      assert.strictEqual(again, 4)
    }))
})
