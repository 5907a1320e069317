import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Address from "../src/Address.js"
import * as BindToAddress from "../src/BindToAddress.js"
import * as BindToPort from "../src/BindToPort.js"
import * as Framing from "../src/Framing.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import * as WhereToListen from "../src/WhereToListen.js"
import { eventually } from "./utils/eventually.js"

const local = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)
const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

interface Logged {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that records every entry, at every level. */
const recording = () => {
  const logged: Array<Logged> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    logged.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: Object.fromEntries(annotations)
    })
  })
  const layer = Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
  return { logged, layer }
}

describe("Server: friction a new user hit", () => {
  it.live("a peer ending mid-frame is logged at debug as a client leaving; a real failure at error, both with the bound address", () => {
    const { layer, logged } = recording()
    return Effect.scoped(Effect.gen(function*() {
      const server = yield* Server.make(local, (conn) =>
        Effect.gen(function*() {
          const first = yield* conn.reader.readLine
          if (Option.getOrNull(first) === "crash") return yield* Effect.fail(new Error("a bug in the handler"))
          yield* Framing.readFrame(conn.reader)
        }))
      const bound = `127.0.0.1:${server.listeningOn}`
      // A client that announces a 100-byte frame and leaves after 3 bytes of it.
      yield* Tcp.withConnection(
        where(server.listeningOn),
        (conn) =>
          Effect.zipRight(conn.writer.writeLine("frame"), conn.writer.write(new Uint8Array([0, 0, 0, 100, 1, 2, 3])))
      )
      yield* Tcp.withConnection(where(server.listeningOn), (conn) => conn.writer.writeLine("crash"))
      yield* eventually(
        Effect.sync(() => logged.filter((l) => l.message.includes("effect-tcp")).length),
        (n) => n >= 2,
        "two log entries"
      )
      const violation = logged.find((l) => l.message.includes("client left breaking the protocol"))
      assert.isDefined(violation)
      assert.strictEqual(violation!.level, "DEBUG")
      assert.include(violation!.message, "end of stream")
      assert.strictEqual(violation!.annotations["effect-tcp.listen"], bound)
      const failure = logged.find((l) => l.message.includes("connection handler failed"))
      assert.isDefined(failure)
      assert.strictEqual(failure!.level, "ERROR")
      assert.strictEqual(failure!.annotations["effect-tcp.listen"], bound)
    })).pipe(Effect.provide(layer))
  })

  it.live("a handler ended by a read bound (TooLarge, LineTooLong) or readTimeout is a peer violation: logged at debug, not as a failure", () => {
    const { layer, logged } = recording()
    return Effect.scoped(Effect.gen(function*() {
      const server = yield* Server.make(local, (conn) =>
        Effect.gen(function*() {
          const op = Option.getOrElse(yield* conn.reader.readLine, () => "")
          // A length prefix the peer chose; a line with no end; a peer too slow for readTimeout.
          if (op === "exactly") yield* conn.reader.readExactly(0xfffffff0)
          else if (op === "until") yield* conn.reader.readUntil("\r\n\r\n", { maxLength: 8 })
          else yield* conn.reader.readExactly(100)
        }), { readTimeout: "100 millis" })
      for (const op of ["exactly", "until", "slow"]) {
        yield* Tcp.withConnection(where(server.listeningOn), (conn) =>
          Effect.gen(function*() {
            yield* conn.writer.writeLine(op)
            yield* conn.writer.write("more than eight bytes without the delimiter")
            yield* conn.reader.read().pipe(Effect.timeout("5 seconds"), Effect.ignore)
          }))
      }
      yield* eventually(
        Effect.sync(() => logged.filter((l) => l.message.includes("client left breaking the protocol")).length),
        (n) => n >= 3,
        "three debug entries"
      )
      const violations = logged.filter((l) => l.message.includes("client left breaking the protocol"))
      assert.deepStrictEqual(violations.map((l) => l.level), ["DEBUG", "DEBUG", "DEBUG"])
      assert.include(violations.map((l) => l.message).join("\n"), "maxReadLength")
      assert.include(violations.map((l) => l.message).join("\n"), "readTimeout")
      assert.isUndefined(logged.find((l) => l.message.includes("connection handler failed")))
    })).pipe(Effect.provide(layer))
  })

  it.live("Server.layerAs: a tag of your own keeps listeningOn a number", () =>
    Effect.gen(function*() {
      class Api extends Context.Tag("test/Api")<Api, Server.Server<Address.Inet, number>>() {}
      const live = Server.layerAs(Api, local, (conn) => conn.writer.writeLine("hello"))
      const reply = yield* Effect.gen(function*() {
        const server = yield* Api
        const port: number = server.listeningOn
        return yield* Tcp.withConnection(where(port), (conn) => conn.reader.readLine)
      }).pipe(Effect.provide(live))
      assert.deepStrictEqual(reply, Option.some("hello"))
    }))

  it.live("BindToAddress.Address accepts a host name, resolved when listening; a bad name is typed", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Server.make(
        WhereToListen.bindTo(BindToAddress.Address("localhost"), BindToPort.OnPortChosenByOs),
        (conn) => conn.writer.writeLine("by name")
      )
      const bound = server.listeningOnAddress
      assert.include(["127.0.0.1", "::1"], bound.host)
      const reply = yield* Tcp.withConnection(
        WhereToConnect.hostAndPort(bound.host, server.listeningOn),
        (conn) => conn.reader.readLine
      )
      assert.deepStrictEqual(reply, Option.some("by name"))
      const notFound = yield* Effect.flip(Server.make(
        WhereToListen.bindTo(BindToAddress.Address("no-such-host.invalid"), BindToPort.OnPortChosenByOs),
        () => Effect.void
      ))
      assert.strictEqual(notFound._tag, "ListenError")
      assert.strictEqual((notFound as { reason: string }).reason, "HostNotFound")
      const bad = yield* Effect.flip(Server.make(
        WhereToListen.bindTo(BindToAddress.Address("not a host"), BindToPort.OnPortChosenByOs),
        () => Effect.void
      ))
      assert.strictEqual(bad._tag, "InvalidArgument")
    })))
})
