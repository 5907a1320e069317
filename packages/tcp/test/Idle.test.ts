import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as BindToAddress from "../src/BindToAddress.js"
import * as BindToPort from "../src/BindToPort.js"
import * as Idle from "../src/Idle.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import { InvalidArgument } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import * as WhereToListen from "../src/WhereToListen.js"
import { accept, rawServer, rawWrite, readToEndWithStatus } from "./utils/rawServer.js"

const where = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

describe("Idle", () => {
  it.live("ReaderIdle fires on a silent peer, not while it keeps sending", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      const peer = yield* accept(server)
      const events: Array<string> = []
      yield* Effect.forkScoped(Idle.watch(conn, {
        readerIdle: "300 millis",
        onIdle: (state) => Effect.sync(() => events.push(state))
      }))
      // Busy: a byte every 20 ms for 900 ms (drained by a reader loop).
      yield* Effect.forkScoped(Effect.forever(conn.reader.read()))
      for (let i = 0; i < 45; i++) {
        yield* rawWrite(peer, "x")
        yield* Effect.sleep("20 millis")
      }
      assert.deepStrictEqual(events, [])
      // Silent: the event comes, and comes again each period.
      yield* Effect.sleep("1200 millis")
      assert.isAtLeast(events.length, 2)
      assert.isTrue(events.every((e) => e === "ReaderIdle"))
    })))

  it.live("WriterIdle: a client sends a heartbeat each period while it writes nothing else", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      const peer = yield* accept(server)
      const received = yield* Effect.fork(readToEndWithStatus(peer))
      yield* Effect.forkScoped(Idle.watch(conn, {
        writerIdle: "50 millis",
        onIdle: () => conn.writer.writeLine("HEARTBEAT")
      }))
      yield* Effect.sleep("600 millis")
      yield* conn.writer.close
      const text = (yield* Fiber.join(received)).bytes.toString()
      const beats = text.split("\n").filter((l) => l === "HEARTBEAT").length
      assert.isAtLeast(beats, 3)
      assert.strictEqual(text.replaceAll("HEARTBEAT\n", ""), "")
    })))

  it.live("during, on a server: a client silent past readerIdle is dropped (onIdle fails), others are served", () =>
    Effect.scoped(Effect.gen(function*() {
      const errors: Array<unknown> = []
      const server = yield* Server.make(
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
        (conn) =>
          Effect.gen(function*() {
            for (;;) {
              const line = yield* conn.reader.readLine
              if (Option.isNone(line)) return
              yield* conn.writer.writeLine(line.value)
            }
          }).pipe(Idle.during(conn, { readerIdle: "150 millis", onIdle: () => Effect.fail("idle" as const) })),
        { onHandlerError: (_address, cause) => Effect.sync(() => errors.push(cause)) }
      )
      const silent = yield* Tcp.connect(where(server.listeningOn))
      const dropped = yield* Effect.fork(silent.reader.readAll)
      // A chatty client, answering within the period each time, is not dropped.
      const chatty = yield* Tcp.connect(where(server.listeningOn))
      for (let i = 0; i < 10; i++) {
        yield* chatty.writer.writeLine(`${i}`)
        assert.deepStrictEqual(yield* chatty.reader.readLine, Option.some(`${i}`))
        yield* Effect.sleep("40 millis")
      }
      const rest = yield* Fiber.join(dropped)
      assert.strictEqual(rest.byteLength, 0)
      assert.isAtLeast(errors.length, 1)
      yield* chatty.writer.writeLine("still here")
      assert.deepStrictEqual(yield* chatty.reader.readLine, Option.some("still here"))
    })))

  it.live("bad options are InvalidArgument", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port))
      const onIdle = () => Effect.void
      for (
        const options of [
          { onIdle },
          { readerIdle: "0 millis", onIdle },
          { readerIdle: -5, onIdle },
          { writerIdle: "soon", onIdle },
          { allIdle: Infinity, onIdle },
          { readerIdle: 100, onIdle: "no" }
        ]
      ) {
        const exit = yield* Effect.exit(Idle.watch<never, never>(conn, options as any))
        assert.isTrue(
          Exit.isFailure(exit) && (exit.cause as any).error instanceof InvalidArgument,
          JSON.stringify(options)
        )
      }
      for (const notAConnection of [undefined, {}, { reader: 1, writer: 2 }]) {
        const exit = yield* Effect.exit(Idle.watch<never, never>(notAConnection as any, { readerIdle: 100, onIdle }))
        assert.isTrue(Exit.isFailure(exit) && (exit.cause as any).error instanceof InvalidArgument)
      }
    })))
})
