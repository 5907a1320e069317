import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import * as PlatformSocketServer from "../src/PlatformSocketServer.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import * as Tls from "../src/Tls.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import * as WhereToListen from "../src/WhereToListen.js"
import { testCertificates } from "./utils/certs.js"
import { eventually } from "./utils/eventually.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { echo, localhost } from "./utils/server.js"
import { tempDir } from "./utils/tempDir.js"

const certs = testCertificates()
const serverTls: Tls.ServerOptions = { certificates: [{ cert: certs.server.cert, key: certs.server.key }] }
const trust = { ca: certs.ca.cert }

const failures = (reason: string) =>
  Effect.map(Metric.value(Metric.tagged(Tls.handshakeFailures, "reason", reason)), (state) => state.count)

/** A `node:tls` client: resolves with the socket once secure, or fails with the handshake error. */
const nodeClient = (options: tls.ConnectionOptions): Effect.Effect<tls.TLSSocket, Error> =>
  Effect.async<tls.TLSSocket, Error>((resume) => {
    const socket = tls.connect({ host: "127.0.0.1", servername: "localhost", ...options })
    socket.once("secureConnect", () => {
      socket.removeAllListeners("error")
      socket.on("error", () => {})
      resume(Effect.succeed(socket))
    })
    socket.once("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => socket.destroy())
  })

/** Everything a node socket receives until its end, as text. */
const receiveAll = (socket: net.Socket): Effect.Effect<string> =>
  Effect.async<string>((resume) => {
    let text = ""
    socket.on("data", (data) => (text += String(data)))
    socket.once("close", () => resume(Effect.succeed(text)))
  })

describe("Tls server", () => {
  it.scopedLive("the handler runs after the handshake, over TLS, and sees what was negotiated", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Option.Option<Tls.TlsInfo>>(Option.none())
      const server = yield* Server.make(localhost, (conn) =>
        Effect.zipRight(
          Ref.set(seen, Tls.info(conn)),
          echo(conn)
        ), { tls: { ...serverTls, alpnProtocols: ["b", "a"] } })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.listeningOn), {
        tls: { ...trust, alpnProtocols: ["a"] }
      })
      yield* conn.writer.writeLine("over tls")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("over tls"))
      assert.deepStrictEqual(Option.getOrThrow(Tls.info(conn)).alpnProtocol, Option.some("a"))
      const info = Option.getOrThrow(yield* Ref.get(seen))
      assert.strictEqual(info.protocol, "TLSv1.3")
      assert.deepStrictEqual(info.alpnProtocol, Option.some("a"))
      assert.deepStrictEqual(info.servername, Option.some("localhost"))
      assert.isTrue(Option.isNone(info.peerCertificate))
    }))

  it.scopedLive("mutual TLS: the client certificate is verified and reported; a client without one never reaches the handler", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      const subject = yield* Ref.make("")
      const server = yield* Server.make(localhost, (conn) =>
        Effect.gen(function*() {
          yield* Ref.update(handled, (n) => n + 1)
          const cert = Option.flatMap(Tls.info(conn), (info) => info.peerCertificate)
          yield* Ref.set(subject, Option.match(cert, { onNone: () => "", onSome: (c) => c.subject.CN ?? "" }))
          yield* echo(conn)
        }), {
        tls: { ...serverTls, requestCert: true, ca: certs.ca.cert },
        onHandlerError: () => Effect.die("onHandlerError must not be called")
      })
      const port = server.listeningOn
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), {
        tls: { ...trust, cert: certs.client.cert, key: certs.client.key }
      })
      yield* conn.writer.writeLine("with a certificate")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("with a certificate"))
      assert.strictEqual(yield* Ref.get(subject), "effect-tcp test client")

      const untrustedBefore = yield* failures("CertificateUntrusted")
      // Without a certificate, and with one from a CA the server does not trust: TLS 1.3 clients
      // finish their side first, then see the server close.
      for (const extra of [{}, { cert: certs.untrusted.cert, key: certs.untrusted.key }]) {
        const socket = yield* nodeClient({ port, ca: certs.ca.cert, ...extra })
        socket.write("hello?\n")
        assert.strictEqual(yield* receiveAll(socket), "")
      }
      yield* eventually(failures("CertificateUntrusted"), (n) => n === untrustedBefore + 2, "two failures counted")
      assert.strictEqual(yield* Ref.get(handled), 1)
      yield* eventually(server.numConnections, (n) => n === 1, "only the good client's connection")
    }))

  it.scopedLive("failed handshakes are counted by reason, never reach the handler, and leave no descriptor", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      const server = yield* Server.make(localhost, () => Ref.update(handled, (n) => n + 1), {
        tls: serverTls,
        onHandlerError: () => Effect.die("onHandlerError must not be called")
      })
      const port = server.listeningOn
      const baseline = fdCount()
      const failedBefore = yield* failures("HandshakeFailed")
      // A client that does not trust our certificate (it aborts), and one that speaks plaintext.
      const refused = yield* Effect.flip(nodeClient({ port }))
      assert.match((refused as { code?: string }).code ?? "", /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER/)
      const plain = net.connect({ host: "127.0.0.1", port })
      plain.on("error", () => {})
      plain.write("GET / HTTP/1.0\r\n\r\n")
      yield* receiveAll(plain)
      yield* eventually(failures("HandshakeFailed"), (n) => n >= failedBefore + 2, "both failures counted")
      assert.strictEqual(yield* Ref.get(handled), 0)
      yield* eventually(server.numConnections, (n) => n === 0, "no connection left")
      yield* expectFdsBackTo(baseline)
    }))

  it.scopedLive("handshakeTimeout: a client that never handshakes is closed; it held its slot meanwhile", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, echo, {
        tls: { ...serverTls, handshakeTimeout: "300 millis" },
        maxConnections: 1
      })
      const port = server.listeningOn
      const timeoutsBefore = yield* failures("Timeout")
      const silent = net.connect({ host: "127.0.0.1", port })
      silent.on("error", () => {})
      const silentClosed = yield* Effect.fork(receiveAll(silent))
      yield* eventually(server.numConnections, (n) => n === 1, "the silent client holds the slot")
      const started = Date.now()
      // The second client waits (held, unread) until the first one's handshake times out.
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), { tls: trust })
      yield* conn.writer.writeLine("after the timeout")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("after the timeout"))
      assert.isAtLeast(Date.now() - started, 200)
      yield* Fiber.join(silentClosed)
      assert.strictEqual(yield* failures("Timeout"), timeoutsBefore + 1)
    }))

  it.scopedLive("SNI: each name gets its certificate, others the first one", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, echo, {
        tls: {
          certificates: [
            { cert: certs.server.cert, key: certs.server.key },
            { cert: certs.sniOther.cert, key: certs.sniOther.key, servernames: ["other.localhost"] }
          ]
        }
      })
      const port = server.listeningOn
      const other = yield* nodeClient({ port, ca: certs.ca.cert, servername: "other.localhost" })
      assert.strictEqual(other.getPeerCertificate().subject.CN, "other.localhost")
      other.destroy()
      const main = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), { tls: trust })
      const cert = Option.getOrThrow(Option.getOrThrow(Tls.info(main)).peerCertificate)
      assert.strictEqual(cert.subject.CN, "localhost")
    }))

  it.scopedLive("over a Unix socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tls.sock")
      yield* Server.make(WhereToListen.onFile(file), echo, { tls: serverTls })
      const conn = yield* Tcp.connect(WhereToConnect.file(file), { tls: trust })
      yield* conn.writer.writeLine("unix and tls")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("unix and tls"))
    }))

  it.scopedLive("a handler's last bytes arrive before the close (writer first, close_notify)", () =>
    Effect.gen(function*() {
      const payload = Buffer.alloc(2 << 20, 7)
      const server = yield* Server.make(localhost, (conn) => conn.writer.write(payload), { tls: serverTls })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.listeningOn), {
        tls: trust,
        maxReadLength: 4 << 20
      })
      const all = yield* conn.reader.readAll
      assert.strictEqual(all.length, payload.length)
    }))

  it.scopedLive("close while a handshake is in progress: no handler starts, nothing is left", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      const server = yield* Server.make(localhost, () => Ref.update(handled, (n) => n + 1), { tls: serverTls })
      const baseline = fdCount()
      const silent = net.connect({ host: "127.0.0.1", port: server.listeningOn })
      silent.on("error", () => {})
      const closed = yield* Effect.fork(receiveAll(silent))
      yield* eventually(server.numConnections, (n) => n === 1, "the handshake holds a slot")
      yield* server.close()
      yield* Fiber.join(closed)
      yield* server.closeFinishedAndHandlersDetermined
      assert.strictEqual(yield* Ref.get(handled), 0)
      yield* expectFdsBackTo(baseline)
    }))

  it.scopedLive("the platform SocketServer adapter takes the tls option", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(localhost, { tls: serverTls })
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.flatMap(socket.writer, (write) => write(new TextEncoder().encode("platform over tls\n")))
      ))
      const port = (server.address as { port: number }).port
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), { tls: trust })
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("platform over tls"))
    }))

  it.effect("bad tls server options are InvalidArgument", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<[unknown, string]> = [
        ["yes", "tls"],
        [{}, "tls.certificates"],
        [{ certificates: [] }, "tls.certificates"],
        [{ certificates: [{ cert: certs.server.cert }] }, "tls.certificates[0].key"],
        [{ certificates: [{ cert: certs.server.cert, key: certs.client.key }] }, "tls.certificates[0]"],
        [{ ...serverTls, requestCert: "yes" }, "tls.requestCert"],
        [{ ...serverTls, handshakeTimeout: -1 }, "tls.handshakeTimeout"],
        [{ ...serverTls, alpnProtocols: [""] }, "tls.alpnProtocols[0]"],
        [
          { certificates: [{ ...serverTls.certificates[0], servernames: ["10.0.0.1"] }] },
          "tls.certificates[0].servernames[0]"
        ]
      ]
      for (const [input, argument] of bad) {
        const error = yield* Effect.flip(
          Effect.scoped(Server.make(localhost, echo, { tls: input as Tls.ServerOptions }))
        )
        assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(input).slice(0, 80))
        assert.strictEqual((error as { argument: string }).argument, argument, JSON.stringify(input).slice(0, 80))
      }
    }))
})
