/**
 * Helpers shared by the Server test files: a listener on 127.0.0.1 with an OS-chosen port, a
 * line echo handler, and a client that asks one line.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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

export const echo = <A extends Address.Address>(conn: Connection.Connection<A>) =>
  Effect.gen(function*() {
    for (;;) {
      const line = yield* conn.reader.readLine
      if (Option.isNone(line)) return
      yield* conn.writer.writeLine(line.value)
    }
  })

export const ask = (port: number, line: string) =>
  Tcp.withConnection(target(port), (conn) =>
    Effect.gen(function*() {
      yield* conn.writer.writeLine(line)
      return yield* conn.reader.readLine
    }))
