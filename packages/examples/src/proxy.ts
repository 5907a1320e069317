/**
 * A TCP proxy: every client is connected to an upstream server and bytes are copied both ways
 * with `Copy.bidirectional` (back-pressure each way; a half-close travels through).
 *
 * Here the upstream is a small server that upper-cases lines and answers with a summary when the
 * client ends its side; the client talks to it through the proxy, half-closes, and reads to the
 * end of stream: the summary proves that its FIN crossed the proxy and the upstream's answer came
 * back after it.
 *
 * Run: `pnpm --filter @effect-tcp/examples proxy`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { BindToAddress, BindToPort, Copy, Server, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"

const local = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)

const program = Effect.gen(function*() {
  // The upstream: upper-cases each line; at the client's end of stream, says how many it saw.
  const upstream = yield* Server.make(local, (conn) =>
    Effect.gen(function*() {
      let lines = 0
      for (;;) {
        const line = yield* conn.reader.readLine
        if (Option.isNone(line)) break
        lines++
        yield* conn.writer.writeLine(line.value.toUpperCase())
      }
      yield* conn.writer.writeLine(`upstream saw ${lines} lines, then your end of stream`)
    }))

  // The proxy: one upstream connection per client, released with the client's connection.
  const proxy = yield* Server.make(
    local,
    (client) =>
      Tcp.withConnection(
        WhereToConnect.hostAndPort("127.0.0.1", upstream.listeningOn),
        (server) =>
          Effect.gen(function*() {
            const copied = yield* Copy.bidirectional(client, server)
            yield* Console.log(`proxy: ${copied.aToB} bytes to upstream, ${copied.bToA} bytes back`)
          })
      )
  )
  yield* Console.log(`proxy on 127.0.0.1:${proxy.listeningOn} -> upstream on 127.0.0.1:${upstream.listeningOn}`)

  yield* Tcp.withConnection(
    WhereToConnect.hostAndPort("127.0.0.1", proxy.listeningOn),
    (conn) =>
      Effect.gen(function*() {
        for (const line of ["hello", "through", "the proxy"]) yield* conn.writer.writeLine(line)
        // Half-close: no more lines from us, but the answer is still to come.
        yield* conn.writer.close
        for (;;) {
          const line = yield* conn.reader.readLine
          if (Option.isNone(line)) break
          yield* Console.log(`client got: ${line.value}`)
        }
      })
  )
  // The proxy's handler logs its counts as it ends; give it its turn before the servers close.
  yield* proxy.close({ closeExistingConnections: false })
  yield* proxy.closeFinishedAndHandlersDetermined
  yield* Console.log("proxy: done")
})

NodeRuntime.runMain(Effect.scoped(program))
