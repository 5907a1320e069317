/**
 * `Reconnect.layer` and `Reconnect.make` over TLS, against our own TLS server (certificates made
 * by `openssl` at test time): every generation is a TLS connection that was verified, a dropped
 * one is re-dialed with a new handshake, and a certificate failure is not retried.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type Address,
  BindToAddress,
  BindToPort,
  type Connection,
  Metrics,
  Reconnect,
  Server,
  Tls,
  WhereToConnect,
  WhereToListen
} from "../src/index.js"
import { testCertificates } from "./utils/certs.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { freePort } from "./utils/rawServer.js"
import { echo, localhost } from "./utils/server.js"

const certs = testCertificates()
const serverTls: Tls.ServerOptions = { certificates: [{ cert: certs.server.cert, key: certs.server.key }] }
const clientTls = { tls: { ca: certs.ca.cert } }

const retries = Effect.map(Metric.value(Metrics.connectRetries), (s) => s.count)
const reconnects = Effect.map(Metric.value(Metrics.reconnects), (s) => s.count)

const fast = Schedule.spaced("20 millis")

/** The handler of the test server: greets with the connection's number; the first one then closes. */
const greeter = (count: Ref.Ref<number>) => <A extends Address.Address>(conn: Connection.Connection<A>) =>
  Effect.gen(function*() {
    const n = yield* Ref.updateAndGet(count, (k) => k + 1)
    yield* conn.writer.writeLine(`#${n}`)
    if (n > 1) yield* echo(conn)
  })

const verified = <A extends Address.Address>(conn: Connection.Connection<A>): boolean =>
  Option.match(Tls.info(conn), { onNone: () => false, onSome: (info) => info.authorized })

describe("Reconnect over TLS", () => {
  it.scopedLive("Reconnect.layer: each generation is a verified TLS connection; a dropped one is re-dialed", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const server = yield* Server.make(localhost, greeter(count), { tls: serverTls })
      const before = yield* reconnects
      const where = WhereToConnect.hostAndPort("localhost", server.listeningOn)
      const link = yield* Layer.build(Reconnect.layer(where, fast, clientTls)).pipe(
        Effect.map(Context.get(Reconnect.Reconnecting))
      )
      const generations = yield* Effect.fork(Stream.runCollect(Stream.take(link.changes, 2)))
      const first = yield* link.connection
      assert.isTrue(Tls.isTls(first))
      assert.isTrue(verified(first))
      // The server greets, then closes the first connection: the link dials again, with a new handshake.
      assert.deepStrictEqual(yield* first.reader.readLine, Option.some("#1"))
      const seen = Chunk.toArray(yield* Fiber.join(generations))
      assert.deepStrictEqual(seen.map((g) => g.generation), [1, 2])
      const second = yield* link.connection
      assert.notStrictEqual(second, first)
      assert.isTrue(verified(second))
      assert.deepStrictEqual(yield* second.reader.readLine, Option.some("#2"))
      yield* second.writer.writeLine("over tls again")
      assert.deepStrictEqual(yield* second.reader.readLine, Option.some("over tls again"))
      assert.strictEqual((yield* reconnects) - before, 1)
    }))

  it.live("Reconnect.make: waits for a TLS server that starts late; reconnect makes a new handshake; release leaves no descriptor", () =>
    Effect.gen(function*() {
      const baseline = fdCount()
      const port = yield* freePort()
      const count = yield* Ref.make(0)
      const retriesBefore = yield* retries
      const outer = yield* Scope.make()
      // The server starts 300 ms after the first dial: the refused attempts are retried.
      yield* Effect.forkIn(
        Effect.zipRight(
          Effect.sleep("300 millis"),
          Scope.extend(
            Server.make(
              WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(port)),
              (conn) => Effect.zipRight(Ref.update(count, (n) => n + 1), echo(conn)),
              { tls: serverTls }
            ),
            outer
          )
        ),
        outer
      )
      const scope = yield* Scope.make()
      const link = yield* Scope.extend(
        Reconnect.make(WhereToConnect.hostAndPort("localhost", port), fast, clientTls),
        scope
      )
      assert.isAbove((yield* retries) - retriesBefore, 0)
      const first = yield* link.connection
      assert.isTrue(verified(first))
      yield* first.writer.writeLine("one")
      assert.deepStrictEqual(yield* first.reader.readLine, Option.some("one"))
      yield* link.reconnect
      const second = yield* link.connection
      assert.notStrictEqual(second, first)
      assert.isTrue(verified(second))
      yield* second.writer.writeLine("two")
      assert.deepStrictEqual(yield* second.reader.readLine, Option.some("two"))
      assert.strictEqual(yield* Ref.get(count), 2)
      assert.strictEqual(yield* link.generation, 2)
      yield* Scope.close(scope, Exit.void)
      yield* Scope.close(outer, Exit.void)
      yield* expectFdsBackTo(baseline)
    }))

  it.scopedLive("a certificate the client does not trust is not retried: the layer fails to build, typed", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, echo, {
        tls: { certificates: [{ cert: certs.untrusted.cert, key: certs.untrusted.key }] }
      })
      const retriesBefore = yield* retries
      const error = yield* Effect.flip(Layer.build(
        Reconnect.layer(WhereToConnect.hostAndPort("localhost", server.listeningOn), fast, clientTls)
      ))
      assert.strictEqual(error._tag, "ConnectError")
      assert.strictEqual(error._tag === "ConnectError" ? error.reason : "", "CertificateUntrusted")
      assert.strictEqual((yield* retries) - retriesBefore, 0)
    }))
})
