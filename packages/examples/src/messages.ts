/**
 * A length-prefixed message protocol with Schema-typed messages: a key-value store.
 *
 * On the wire every message is a frame (a 4-byte big-endian length, then the body) holding a
 * JSON object. The server decodes each frame with the `Request` schema; a frame that does not
 * decode gets an `Error` reply and the connection goes on (`Message.framesEither`). The client
 * writes requests with `Message.writeFrame` and reads replies with `Message.readFrame`.
 *
 * Run: `pnpm --filter @effect-tcp/examples messages`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Either, Option, Schema, Stream } from "effect"
import {
  type Address,
  BindToAddress,
  BindToPort,
  type Connection,
  Framing,
  Server,
  Tcp,
  WhereToConnect,
  WhereToListen
} from "effect-tcp"
import * as Message from "effect-tcp/Message"

// ---------------------------------------------------------------------------------------------
// The protocol

const Put = Schema.TaggedStruct("Put", { key: Schema.String, value: Schema.String })
const Get = Schema.TaggedStruct("Get", { key: Schema.String })
const Request = Schema.Union(Put, Get)

const Ok = Schema.TaggedStruct("Ok", {})
const Value = Schema.TaggedStruct("Value", { value: Schema.OptionFromNullOr(Schema.String) })
const Failure = Schema.TaggedStruct("Error", { message: Schema.String })
const Reply = Schema.Union(Ok, Value, Failure)

/** Frames of at most 64 KiB: a longer one is a `FrameError` and ends the connection. */
const framing: Framing.LengthDelimitedOptions = { maxFrameLength: 64 * 1024 }
const RequestFormat = Message.json(Request)
const ReplyFormat = Message.json(Reply)

// ---------------------------------------------------------------------------------------------
// The server: one store shared by every connection

const store = new Map<string, string>()

const serve = (conn: Connection.Connection<Address.Inet>) =>
  Message.framesEither(conn.reader, RequestFormat, framing).pipe(
    Stream.map(Either.match({
      onLeft: (error) => Failure.make({ message: `frame ${error.index}: bad request` }),
      onRight: (request) => {
        switch (request._tag) {
          case "Put":
            store.set(request.key, request.value)
            return Ok.make({})
          case "Get":
            return Value.make({ value: Option.fromNullable(store.get(request.key)) })
        }
      }
    })),
    Stream.run(Message.frameSink(conn.writer, ReplyFormat, framing))
  )

// ---------------------------------------------------------------------------------------------
// A client

const program = Effect.gen(function*() {
  const server = yield* Server.make(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs), serve)
  yield* Console.log(`key-value server listening on 127.0.0.1:${server.listeningOn}`)

  yield* Tcp.withConnection(
    WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn),
    (conn) =>
      Effect.gen(function*() {
        const ask = (request: typeof Request.Type) =>
          Effect.zipRight(
            Message.writeFrame(conn.writer, RequestFormat, request, framing),
            Message.readFrame(conn.reader, ReplyFormat, framing)
          )
        const show = (reply: Option.Option<typeof Reply.Type>) =>
          Option.match(reply, {
            onNone: () => "<end of stream>",
            onSome: (r) =>
              r._tag === "Value"
                ? `Value ${Option.getOrElse(r.value, () => "<none>")}`
                : r._tag === "Error"
                ? `Error: ${r.message}`
                : "Ok"
          })
        yield* Console.log(`Put language=effect -> ${show(yield* ask(Put.make({ key: "language", value: "effect" })))}`)
        yield* Console.log(`Get language -> ${show(yield* ask(Get.make({ key: "language" })))}`)
        yield* Console.log(`Get missing -> ${show(yield* ask(Get.make({ key: "missing" })))}`)
        // A frame that is not a request: the server answers with an error and keeps the connection.
        yield* Framing.writeFrame(conn.writer, new TextEncoder().encode("{\"_tag\":\"Delete\"}"), framing)
        yield* Console.log(`Delete -> ${show(yield* Message.readFrame(conn.reader, ReplyFormat, framing))}`)
        yield* Console.log(`Get language again -> ${show(yield* ask(Get.make({ key: "language" })))}`)
      })
  )
  yield* Console.log("messages: done")
})

NodeRuntime.runMain(Effect.scoped(program))
