/**
 * An echo server provided as a Layer, and a client that talks to it.
 *
 * `Server.layer` starts listening when the Layer is built and shuts the server down gracefully
 * when it is released; here the client's program is all that runs inside it, so the program
 * ends (and the server with it) when the client is done.
 *
 * Run: `pnpm --filter @effect-tcp/examples echo`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option, Stream } from "effect"
import { BindToAddress, BindToPort, Server, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"

/** Every connection gets its bytes back as they arrive, until the client ends its side. */
const EchoServer = Server.layer(
  WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
  (conn) => Stream.run(conn.reader.stream, conn.writer.sink)
)

const program = Effect.gen(function*() {
  const server = yield* Server.TcpServer
  const port = Number(server.listeningOn)
  yield* Console.log(`echo server listening on 127.0.0.1:${port}`)

  yield* Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", port), (conn) =>
    Effect.gen(function*() {
      for (const line of ["hello", "effect-tcp", "goodbye"]) {
        yield* conn.writer.writeLine(line)
        const echoed = yield* conn.reader.readLine
        yield* Console.log(`sent "${line}", got back "${Option.getOrElse(echoed, () => "<end of stream>")}"`)
      }
    }))
  yield* Console.log("echo: done")
})

program.pipe(Effect.provide(EchoServer), NodeRuntime.runMain)
