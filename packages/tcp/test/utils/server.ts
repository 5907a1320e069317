/**
 * Helpers shared by the Server test files: a listener on 127.0.0.1 with an OS-chosen port, a
 * line echo handler, a client that asks one line, polling, and the descriptor count.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import {
  type Address,
  BindToAddress,
  BindToPort,
  type Connection,
  Tcp,
  WhereToConnect,
  WhereToListen
} from "../../src/index.js"

export const localhost = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)

export const target = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

export const fds = () => fs.readdirSync("/proc/self/fd").length

export const echo = <A extends Address.Address>(conn: Connection.Connection<A>) =>
  Effect.gen(function*() {
    for (;;) {
      const line = yield* conn.reader.readLine
      if (Option.isNone(line)) return
      yield* conn.writer.writeLine(line.value)
    }
  })

/** Polls `check` every 5 ms until it holds; dies after `timeoutMs`. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, what: string, timeoutMs = 5000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(5)
    }
  })

export const ask = (port: number, line: string) =>
  Tcp.withConnection(target(port), (conn) =>
    Effect.gen(function*() {
      yield* conn.writer.writeLine(line)
      return yield* conn.reader.readLine
    }))
