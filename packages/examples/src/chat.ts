/**
 * A line chat: every line a client sends goes to every other client.
 *
 * The server keeps a `PubSub` of messages; each connection sends its name first, then lines.
 * Two scripted clients, alice and bob, join, talk and leave; each prints what it hears.
 *
 * Run: `pnpm --filter @effect-tcp/examples chat`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option, PubSub, Stream } from "effect"
import type { Address, Connection } from "effect-tcp"
import { BindToAddress, BindToPort, Server, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"

interface Message {
  readonly from: string
  readonly text: string
}

/** One chat member: subscribe, announce, relay what the others say, publish what this one says. */
const member = (hub: PubSub.PubSub<Message>) => (conn: Connection.Connection<Address.Inet>) =>
  Effect.gen(function*() {
    const name = Option.getOrElse(yield* conn.reader.readLine, () => "")
    if (name === "") return
    // The handler has its own scope: the subscription and the relay end with the connection.
    const inbox = yield* PubSub.subscribe(hub)
    yield* conn.writer.writeLine(`* welcome, ${name}`)
    yield* PubSub.publish(hub, { from: name, text: `* ${name} joined` })
    yield* Effect.forkScoped(
      Stream.fromQueue(inbox).pipe(
        Stream.filter((message) => message.from !== name),
        Stream.runForEach((message) => conn.writer.writeLine(message.text))
      )
    )
    yield* Stream.runForEach(
      conn.reader.lines,
      (text) => PubSub.publish(hub, { from: name, text: `<${name}> ${text}` })
    )
    yield* PubSub.publish(hub, { from: name, text: `* ${name} left` })
  })

/** A scripted client: `hear` prints the next line it receives. */
const client = (port: number, name: string) =>
  Effect.gen(function*() {
    const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", port))
    yield* conn.writer.writeLine(name)
    return {
      say: (text: string) => conn.writer.writeLine(text),
      hear: Effect.flatMap(conn.reader.readLine, (line) =>
        Console.log(`[${name}] ${Option.getOrElse(line, () => "(disconnected)")}`)),
      leave: conn.writer.close
    }
  })

const program = Effect.gen(function*() {
  const hub = yield* PubSub.unbounded<Message>()
  const server = yield* Server.make(
    WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
    member(hub)
  )
  yield* Console.log(`chat server listening on 127.0.0.1:${server.listeningOn}`)

  const alice = yield* client(server.listeningOn, "alice")
  yield* alice.hear // * welcome, alice
  const bob = yield* client(server.listeningOn, "bob")
  yield* bob.hear // * welcome, bob
  yield* alice.hear // * bob joined
  yield* alice.say("hi bob")
  yield* bob.hear // <alice> hi bob
  yield* bob.say("hello alice, bye now")
  yield* alice.hear // <bob> hello alice, bye now
  yield* bob.leave
  yield* bob.hear // (disconnected)
  yield* alice.hear // * bob left
  yield* alice.leave
  yield* alice.hear // (disconnected)
  yield* Console.log("chat: done")
}).pipe(Effect.scoped)

program.pipe(NodeRuntime.runMain)
