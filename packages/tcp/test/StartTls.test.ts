import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as net from "node:net"
import * as tls from "node:tls"
import * as Metrics from "../src/Metrics.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import type { TlsError } from "../src/TcpError.js"
import * as Tls from "../src/Tls.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { testCertificates } from "./utils/certs.js"
import { eventually } from "./utils/eventually.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { accept, rawServer } from "./utils/rawServer.js"
import { localhost } from "./utils/server.js"

const certs = testCertificates()
const serverSide = { side: "server", certificates: [{ cert: certs.server.cert, key: certs.server.key }] } as const
const clientSide = { side: "client", ca: certs.ca.cert } as const

/** Reads one line (up to LF) from a raw socket without consuming more than that line. */
const rawLine = (socket: net.Socket): Effect.Effect<string> =>
  Effect.async<string>((resume) => {
    let text = ""
    const onReadable = () => {
      for (;;) {
        const byte = socket.read(1) as Buffer | null
        if (byte === null) return
        if (byte[0] === 0x0a) {
          socket.off("readable", onReadable)
          return resume(Effect.succeed(text))
        }
        text += byte.toString("latin1")
      }
    }
    socket.on("readable", onReadable)
    onReadable()
  })

/** The peer's side of an upgrade: TLS over `socket`, as server or client. */
const peerUpgrade = (socket: net.Socket, side: "server" | "client"): Effect.Effect<tls.TLSSocket, Error> =>
  Effect.async<tls.TLSSocket, Error>((resume) => {
    if (side === "server") {
      const secure = new tls.TLSSocket(socket, { isServer: true, key: certs.server.key, cert: certs.server.cert })
      secure.once("secure", () => resume(Effect.succeed(secure)))
      secure.once("error", (error) => resume(Effect.fail(error)))
    } else {
      const secure = tls.connect({ socket, ca: certs.ca.cert, servername: "localhost" })
      secure.once("secureConnect", () => resume(Effect.succeed(secure)))
      secure.once("error", (error) => resume(Effect.fail(error)))
    }
  })

/** One side's connection metrics (global: tests compare readings before and after). */
const sideReading = (side: Metrics.Side) => {
  const count = (metric: Metric.Metric.Counter<number>) =>
    Effect.map(Metric.value(Metric.tagged(metric, Metrics.sideTag, side)), (state) => state.count)
  return Effect.all({
    opened: count(Metrics.connectionsOpened),
    closed: count(Metrics.connectionsClosed),
    open: Effect.map(Metric.value(Metric.tagged(Metrics.connectionsOpen, Metrics.sideTag, side)), (s) => s.value),
    read: count(Metrics.bytesRead),
    written: count(Metrics.bytesWritten)
  })
}

const delta = <A extends Record<string, number>>(before: A, after: A): A =>
  Object.fromEntries(Object.keys(before).map((k) => [k, after[k]! - before[k]!])) as A

const tlsFailure = <A, E>(exit: Exit.Exit<A, E>): TlsError => {
  assert.isTrue(Exit.isFailure(exit), "the upgrade should have failed")
  const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<A, E>).cause)) as unknown as TlsError
  assert.strictEqual(error._tag, "TlsError")
  return error
}

describe("Tls.startTls", () => {
  it.scopedLive("client side: plaintext, STARTTLS, then the same connection over TLS; the old reader and writer fail", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer = yield* accept(server)
      yield* plain.writer.write("STARTTLS\n")
      assert.strictEqual(yield* rawLine(peer), "STARTTLS")
      peer.write("220 go ahead\n")
      assert.deepStrictEqual(yield* plain.reader.readLine, Option.some("220 go ahead"))
      const [conn, secure] = yield* Effect.all([
        Tls.startTls(plain, { ...clientSide, servername: "localhost" }),
        peerUpgrade(peer, "server")
      ], { concurrency: 2 })
      assert.isTrue(Tls.isTls(conn))
      assert.isTrue(Option.getOrThrow(Tls.info(conn)).authorized)
      yield* conn.writer.writeLine("over tls")
      const line = yield* Effect.async<string>((resume) => {
        secure.once("data", (data) => resume(Effect.succeed(String(data))))
      })
      assert.strictEqual(line, "over tls\n")
      secure.write("reply\n")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("reply"))
      const read = yield* Effect.flip(plain.reader.readLine)
      assert.strictEqual(read.reason, "Closed")
      const write = yield* Effect.flip(plain.writer.write("x"))
      assert.include(write, { _tag: "WriteError", reason: "Closed" })
      assert.strictEqual(conn.socket.remoteAddress, plain.socket.remoteAddress)
    }))

  it.scopedLive("plaintext pipelined after the command is never delivered as TLS: the upgrade fails typed", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const baseline = fdCount()
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer = yield* accept(server)
      yield* plain.writer.write("STARTTLS\n")
      assert.strictEqual(yield* rawLine(peer), "STARTTLS")
      // A man in the middle answers and injects a command in the same segment (CVE-2011-0411).
      peer.write("220 go ahead\nINJECTED COMMAND\n")
      assert.deepStrictEqual(yield* plain.reader.readLine, Option.some("220 go ahead"))
      const error = tlsFailure(yield* Effect.exit(Tls.startTls(plain, clientSide)))
      assert.strictEqual(error.reason, "PlaintextBuffered")
      peer.destroy()
      yield* expectFdsBackTo(baseline)
    }))

  it.scopedLive("buffered: \"discard\" drops the pipelined plaintext and upgrades", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer = yield* accept(server)
      peer.write("220 go ahead\nINJECTED COMMAND\n")
      assert.deepStrictEqual(yield* plain.reader.readLine, Option.some("220 go ahead"))
      while ((yield* plain.reader.bytesBuffered) === 0) yield* Effect.sleep("5 millis")
      const [conn, secure] = yield* Effect.all([
        Tls.startTls(plain, { ...clientSide, buffered: "discard" }),
        peerUpgrade(peer, "server")
      ], { concurrency: 2 })
      secure.end("only this\n")
      assert.strictEqual(Buffer.from(yield* conn.reader.readAll).toString(), "only this\n")
    }))

  it.scopedLive("server side, in a Server handler: a pipelined command after STARTTLS fails the upgrade", () =>
    Effect.gen(function*() {
      const outcome = yield* Deferred.make<string>()
      const server = yield* Server.make(localhost, (plain) =>
        Effect.gen(function*() {
          yield* plain.reader.readLine
          yield* plain.writer.write("220 go ahead\n")
          const exit = yield* Effect.exit(Tls.startTls(plain, serverSide))
          yield* Deferred.succeed(outcome, Exit.isFailure(exit) ? tlsFailure(exit).reason : "upgraded")
        }))
      const client = net.connect({ host: "127.0.0.1", port: server.listeningOn as number })
      client.on("error", () => {})
      client.write("STARTTLS\nMAIL FROM:<evil@example.com>\n")
      assert.strictEqual(yield* Deferred.await(outcome), "PlaintextBuffered")
      client.destroy()
    }))

  it.scopedLive("both sides effect-tcp: client and Server handler upgrade and talk over TLS", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, (plain) =>
        Effect.gen(function*() {
          const command = yield* plain.reader.readLine
          if (Option.getOrNull(command) !== "STARTTLS") return
          yield* plain.writer.write("220 go ahead\n")
          const conn = yield* Tls.startTls(plain, serverSide)
          const line = Option.getOrElse(yield* conn.reader.readLine, () => "")
          yield* conn.writer.writeLine(`tls echo: ${line}`)
        }))
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.listeningOn as number))
      yield* plain.writer.write("STARTTLS\n")
      assert.deepStrictEqual(yield* plain.reader.readLine, Option.some("220 go ahead"))
      const conn = yield* Tls.startTls(plain, clientSide)
      yield* conn.writer.writeLine("hello")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("tls echo: hello"))
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.none())
    }))

  it.live("an upgraded connection is one connection in the metrics: opened once, closed once, bytes of both phases", () =>
    Effect.gen(function*() {
      const clientBefore = yield* sideReading("client")
      const serverBefore = yield* sideReading("server")
      const handlerDone = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(localhost, (plain) =>
          Effect.gen(function*() {
            yield* plain.reader.readLine // "STARTTLS\n": 9 bytes
            yield* plain.writer.write("220 go\n") // 7 bytes
            const conn = yield* Tls.startTls(plain, serverSide)
            const line = Option.getOrElse(yield* conn.reader.readLine, () => "") // "hello\n": 6 bytes
            yield* conn.writer.writeLine(`echo ${line}`) // 11 bytes
          }).pipe(Effect.ensuring(Deferred.succeed(handlerDone, undefined))))
        yield* Effect.scoped(Effect.gen(function*() {
          const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.listeningOn as number))
          yield* plain.writer.write("STARTTLS\n")
          assert.deepStrictEqual(yield* plain.reader.readLine, Option.some("220 go"))
          const conn = yield* Tls.startTls(plain, clientSide)
          const during = delta(clientBefore, yield* sideReading("client"))
          assert.deepStrictEqual({ opened: during.opened, open: during.open }, { opened: 1, open: 1 })
          yield* conn.writer.writeLine("hello")
          assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("echo hello"))
        }))
        yield* Deferred.await(handlerDone)
      }))
      const client = yield* eventually(sideReading("client"), (r) => r.closed > clientBefore.closed)
      const server = yield* eventually(sideReading("server"), (r) => r.closed > serverBefore.closed)
      assert.deepStrictEqual(delta(clientBefore, client), { opened: 1, closed: 1, open: 0, read: 18, written: 15 })
      assert.deepStrictEqual(delta(serverBefore, server), { opened: 1, closed: 1, open: 0, read: 15, written: 18 })
    }))

  it.scopedLive("a TLS connection cannot be upgraded again; a closed one fails Closed", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer = yield* accept(server)
      const [conn] = yield* Effect.all([Tls.startTls(plain, clientSide), peerUpgrade(peer, "server")], {
        concurrency: 2
      })
      assert.strictEqual(tlsFailure(yield* Effect.exit(Tls.startTls(conn, clientSide))).reason, "AlreadyTls")
      assert.strictEqual(tlsFailure(yield* Effect.exit(Tls.startTls(plain, clientSide))).reason, "Closed")
    }))

  it.scopedLive("a peer that never answers the handshake: Timeout, the socket closed", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const baseline = fdCount()
      const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      const peer = yield* accept(server)
      const error = tlsFailure(yield* Effect.exit(Tls.startTls(plain, { ...clientSide, timeout: "200 millis" })))
      assert.strictEqual(error.reason, "Timeout")
      peer.destroy()
      yield* expectFdsBackTo(baseline)
    }))

  it.effect("bad options are InvalidArgument", () =>
    Effect.gen(function*() {
      const fake = {} as never
      for (const options of [{ side: "middle" }, { side: "client", buffered: "keep" }, { side: "server" }, null]) {
        const exit = yield* Effect.exit(Effect.scoped(Tls.startTls(fake, options as never)))
        const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<unknown, { _tag: string }>).cause))
        assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(options))
      }
    }))
})
