/**
 * A reconnecting client: `Reconnect.layer` keeps a connection to a server alive and re-dials
 * (with a `Schedule`) whenever the server drops it.
 *
 * The server here answers two requests per connection and then hangs up, so the client's
 * connection keeps being replaced; the client follows the replacements through `changes` and
 * retries a request that was cut off on the next connection.
 *
 * Run: `pnpm --filter @effect-tcp/examples reconnect`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option, Schedule, Stream } from "effect"
import { BindToAddress, BindToPort, Reconnect, Server, WhereToConnect, WhereToListen } from "effect-tcp"

class Dropped {
  readonly _tag = "Dropped"
}

/** Sends one request on the current connection; `Dropped` when the connection went away. */
const request = (text: string) =>
  Effect.gen(function*() {
    const link = yield* Reconnect.Reconnecting
    const conn = yield* link.connection
    yield* conn.writer.writeLine(text)
    const answer = yield* conn.reader.readLine
    if (Option.isNone(answer)) return yield* Effect.fail(new Dropped())
    return answer.value
  }).pipe(
    // A request cut off by a drop is sent again once the next connection is up.
    Effect.catchTags({ ReadError: () => Effect.fail(new Dropped()), WriteError: () => Effect.fail(new Dropped()) }),
    Effect.retry({ while: (error) => error._tag === "Dropped", schedule: Schedule.spaced("20 millis"), times: 20 })
  )

const program = Effect.gen(function*() {
  let served = 0
  const server = yield* Server.make(
    WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
    (conn) =>
      Effect.gen(function*() {
        const id = ++served
        for (let i = 0; i < 2; i++) {
          const line = yield* conn.reader.readLine
          if (Option.isNone(line)) return
          yield* conn.writer.writeLine(`server connection ${id} answers ${line.value}`)
        }
      })
  )
  yield* Console.log(`server listening on 127.0.0.1:${server.listeningOn}; it hangs up after two requests`)

  const client = Effect.gen(function*() {
    const link = yield* Reconnect.Reconnecting
    yield* Effect.forkScoped(
      Stream.runForEach(link.changes, ({ connection, generation }) =>
        Console.log(
          `client connection #${generation} from port ${
            connection.socket.localAddress._tag === "Inet" ? connection.socket.localAddress.port : "?"
          }`
        ))
    )
    for (let i = 1; i <= 6; i++) {
      yield* Console.log(yield* request(`request ${i}`))
    }
    yield* Console.log(`reconnect: done after ${yield* link.generation} connections`)
  })

  yield* client.pipe(
    Effect.scoped,
    Effect.provide(
      Reconnect.layer(WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn), Schedule.spaced("50 millis"))
    )
  )
}).pipe(Effect.scoped)

program.pipe(NodeRuntime.runMain)
