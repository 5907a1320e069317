import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as fc from "fast-check"
import * as crypto from "node:crypto"
import * as path from "node:path"
import type * as tls from "node:tls"
import * as PlatformSocket from "../src/PlatformSocket.js"
import * as Reconnect from "../src/Reconnect.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import { ConnectError } from "../src/TcpError.js"
import * as Tls from "../src/Tls.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { testCertificates } from "./utils/certs.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { accept, rawServer, rawWrite, readToEnd } from "./utils/rawServer.js"
import { echo, localhost } from "./utils/server.js"
import { tempDir } from "./utils/tempDir.js"
import { acceptSecure, tlsPeerServer } from "./utils/tlsPeers.js"
import { recordingTracer } from "./utils/tracer.js"

const certs = testCertificates()
const serverTls = { key: certs.server.key, cert: certs.server.cert }
const trust = { ca: certs.ca.cert }

/** Reads one chunk from a peer socket, as text. */
const peerRead = (socket: tls.TLSSocket | import("node:net").Socket) =>
  Effect.async<string>((resume) => {
    socket.once("data", (data) => resume(Effect.succeed(String(data))))
  })

/** The connect's failure: a `ConnectError`, checked to carry a `TlsError` with a code. */
const connectFailure = <A, E>(exit: Exit.Exit<A, E>): ConnectError => {
  assert.isTrue(Exit.isFailure(exit), "the connect should have failed")
  const failure = Cause.failureOption((exit as Exit.Failure<A, E>).cause)
  assert.isTrue(Option.isSome(failure), `expected a typed failure, got ${String(exit)}`)
  const error = (failure as Option.Some<E>).value
  assert.isTrue(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`)
  return error as ConnectError
}

describe("Tls client", () => {
  it.scopedLive("connects, exchanges bytes both ways, reports what it negotiated", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer({ ...serverTls, ALPNProtocols: ["effect-tcp/1", "http/1.1"] })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), {
        tls: { ...trust, alpnProtocols: ["effect-tcp/1"] }
      })
      const peer = yield* acceptSecure(server)
      assert.strictEqual((peer as unknown as { servername: string }).servername, "localhost")
      yield* conn.writer.writeLine("ping")
      assert.strictEqual(yield* peerRead(peer), "ping\n")
      peer.write("pong\n")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("pong"))

      assert.isTrue(Tls.isTls(conn))
      const info = Option.getOrThrow(Tls.info(conn))
      assert.strictEqual(info.protocol, "TLSv1.3")
      assert.match(info.cipher, /^TLS_/)
      assert.deepStrictEqual(info.alpnProtocol, Option.some("effect-tcp/1"))
      assert.isTrue(info.authorized)
      assert.deepStrictEqual(info.servername, Option.some("localhost"))
      const cert = Option.getOrThrow(info.peerCertificate)
      assert.strictEqual(cert.subject.CN, "localhost")
      assert.strictEqual(cert.issuer.CN, "effect-tcp test CA")
      assert.deepStrictEqual(cert.subjectAltNames, [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1"
      ])
      assert.isTrue(cert.validFrom.getTime() < Date.now() && Date.now() < cert.validTo.getTime())
      const der = new crypto.X509Certificate(certs.server.cert)
      assert.strictEqual(cert.fingerprint256, der.fingerprint256)
      assert.strictEqual(Buffer.from(cert.raw).toString("base64"), der.raw.toString("base64"))
    }))

  it.scopedLive("a plaintext connection has no TLS info", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port))
      assert.isFalse(Tls.isTls(conn))
      assert.isTrue(Option.isNone(Tls.info(conn)))
    }))

  it.scopedLive("an IP literal is never sent as SNI; the certificate is checked against the IP", () =>
    Effect.gen(function*() {
      for (const host of ["127.0.0.1", "::1", "[::1]"]) {
        const server = yield* tlsPeerServer({ ...serverTls, host: host.replace(/[[\]]/g, "") })
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort(host, server.port), { tls: trust })
        const peer = yield* acceptSecure(server)
        assert.isFalse(Boolean((peer as unknown as { servername: unknown }).servername), `no SNI for ${host}`)
        assert.isTrue(Option.getOrThrow(Tls.info(conn)).authorized)
        assert.isTrue(Option.isNone(Option.getOrThrow(Tls.info(conn)).servername))
      }
    }))

  it.scopedLive("servername overrides the name sent and checked", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer({ key: certs.wrongName.key, cert: certs.wrongName.cert })
      yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
        tls: { ...trust, servername: "wrong.example" }
      })
      const peer = yield* acceptSecure(server)
      assert.strictEqual((peer as unknown as { servername: string }).servername, "wrong.example")
    }))

  describe("handshake failures are typed, keep the code and the address, and leave no descriptor", () => {
    const cases: ReadonlyArray<{
      readonly name: string
      readonly server: tls.TlsOptions
      readonly client: Tls.ClientOptions
      readonly reason: Tls.HandshakeFailureReason
      readonly code: RegExp
    }> = [
      {
        name: "untrusted (system roots only)",
        server: serverTls,
        client: {},
        reason: "CertificateUntrusted",
        code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/
      },
      {
        name: "untrusted (another CA)",
        server: { key: certs.untrusted.key, cert: certs.untrusted.cert },
        client: trust,
        reason: "CertificateUntrusted",
        code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/
      },
      {
        name: "host name mismatch",
        server: { key: certs.wrongName.key, cert: certs.wrongName.cert },
        client: trust,
        reason: "HostnameMismatch",
        code: /^ERR_TLS_CERT_ALTNAME_INVALID$/
      },
      {
        name: "expired",
        server: { key: certs.expired.key, cert: certs.expired.cert },
        client: trust,
        reason: "CertificateExpired",
        code: /^CERT_HAS_EXPIRED$/
      },
      {
        name: "no common protocol version",
        server: { ...serverTls, maxVersion: "TLSv1.2" },
        client: { ...trust, minVersion: "TLSv1.3" },
        reason: "HandshakeFailed",
        code: /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/
      }
    ]
    for (const c of cases) {
      it.scopedLive(c.name, () =>
        Effect.gen(function*() {
          const server = yield* tlsPeerServer(c.server)
          const baseline = fdCount()
          const exit = yield* Effect.exit(Effect.scoped(
            Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: c.client })
          ))
          const error = connectFailure(exit)
          assert.strictEqual(error.reason, c.reason, error.message)
          assert.instanceOf(error.cause, Tls.TlsError)
          const tlsError = error.cause as Tls.TlsError
          assert.strictEqual(tlsError.reason, c.reason)
          assert.match(tlsError.code ?? "", c.code)
          assert.strictEqual(error.attempts.length, 1)
          assert.strictEqual(error.attempts[0]!.reason, c.reason)
          assert.strictEqual(error.attempts[0]!.address._tag, "Inet")
          assert.strictEqual((error.attempts[0]!.address as { port: number }).port, server.port)
          yield* expectFdsBackTo(baseline)
        }))
    }

    it.scopedLive("a plaintext peer", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({
          onConnection: (socket) => {
            socket.resume()
            socket.end("HTTP/1.0 400 Bad Request\r\n\r\n")
          }
        })
        const baseline = fdCount()
        const exit = yield* Effect.exit(Effect.scoped(
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), { tls: trust })
        ))
        const error = connectFailure(exit)
        assert.strictEqual(error.reason, "HandshakeFailed")
        assert.match((error.cause as Tls.TlsError).code ?? "", /WRONG_VERSION_NUMBER|ECONNRESET|PACKET_LENGTH/)
        yield* expectFdsBackTo(baseline)
      }))

    it.scopedLive("rejectUnauthorized: false connects anyway (tests only)", () =>
      Effect.gen(function*() {
        for (const pair of [certs.expired, certs.wrongName, certs.untrusted]) {
          const server = yield* tlsPeerServer({ key: pair.key, cert: pair.cert })
          const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), {
            tls: { rejectUnauthorized: false }
          })
          assert.isFalse(Option.getOrThrow(Tls.info(conn)).authorized)
        }
      }))
  })

  describe("the handshake is part of connecting", () => {
    it.scopedLive("a peer that never answers the handshake: Timeout within `timeout`, no descriptor left", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const baseline = fdCount()
        const exit = yield* Effect.exit(Effect.scoped(
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), { tls: trust, timeout: "300 millis" })
        ))
        const error = connectFailure(exit)
        assert.strictEqual(error.reason, "Timeout")
        yield* expectFdsBackTo(baseline + 1) // the raw server's accepted socket, until it sees our FIN
      }))

    it.scopedLive("the interrupt option abandons the handshake", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const baseline = fdCount()
        const fire = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(Effect.exit(Effect.scoped(
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
            tls: trust,
            interrupt: Deferred.await(fire)
          })
        )))
        yield* accept(server) // TCP is up; the handshake waits for an answer that never comes
        yield* Deferred.succeed(fire, undefined)
        const error = connectFailure(yield* Fiber.join(fiber))
        assert.strictEqual(error.reason, "Interrupted")
        yield* expectFdsBackTo(baseline + 1)
      }))

    it.scopedLive("interrupting the fiber aborts the handshake and leaves no descriptor", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const baseline = fdCount()
        const fiber = yield* Effect.fork(Effect.scoped(
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), { tls: trust })
        ))
        const peer = yield* accept(server)
        yield* Effect.sleep("20 millis")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* readToEnd(peer) // our side closed
        peer.destroy()
        yield* expectFdsBackTo(baseline)
      }))
  })

  it.scopedLive("mutual TLS: a client certificate", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer({
        ...serverTls,
        ca: certs.ca.cert,
        requestCert: true,
        rejectUnauthorized: true
      })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), {
        tls: { ...trust, cert: certs.client.cert, key: certs.client.key }
      })
      const peer = yield* acceptSecure(server)
      assert.isTrue(peer.authorized)
      assert.strictEqual(peer.getPeerCertificate().subject.CN, "effect-tcp test client")
      yield* conn.writer.writeLine("hello")
      assert.strictEqual(yield* peerRead(peer), "hello\n")
    }))

  it.scopedLive("mutual TLS 1.3: a refused client certificate shows on the first read, not on connect", () =>
    Effect.gen(function*() {
      const handled = yield* Deferred.make<void>()
      const server = yield* Server.make(
        localhost,
        (conn) => Effect.zipRight(Deferred.succeed(handled, undefined), echo(conn)),
        {
          tls: { certificates: [serverTls], requestCert: true, ca: certs.ca.cert }
        }
      )
      const where = WhereToConnect.hostAndPort("localhost", server.listeningOn)
      // No certificate: the client's handshake completes (TLS 1.3 sends the certificate in the
      // client's last flight), then the server's certificate_required alert fails the first read.
      const refused = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(where, { tls: trust })
        assert.strictEqual(Option.getOrThrow(Tls.info(conn)).protocol, "TLSv1.3")
        return yield* Effect.flip(conn.reader.readLine)
      }))
      assert.strictEqual(refused._tag, "ReadError")
      assert.strictEqual(refused.reason, "Unknown")
      assert.strictEqual((refused.cause as { code?: string }).code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
      // A certificate the server does not trust: a Node server (ours) closes without an alert,
      // so the client reads the end of the stream.
      const untrusted = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(where, {
          tls: { ...trust, cert: certs.untrusted.cert, key: certs.untrusted.key }
        })
        return yield* conn.reader.read()
      }))
      assert.isTrue(Option.isNone(untrusted))
      assert.isFalse(yield* Deferred.isDone(handled))
    }))

  it.scopedLive("half-close over TLS: after writer.close the peer still sends, then end of stream", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer({ ...serverTls, allowHalfOpen: true })
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
      const peer = yield* acceptSecure(server)
      yield* conn.writer.write("request")
      yield* conn.writer.close
      assert.strictEqual((yield* readToEnd(peer)).toString(), "request")
      peer.end("reply after your FIN")
      assert.strictEqual(Buffer.from(yield* conn.reader.readAll).toString(), "reply after your FIN")
    }))

  it.scopedLive("release is writer first: every byte written arrives before the end", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const payload = crypto.randomBytes(1 << 20)
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
        yield* conn.writer.write(payload)
      }))
      const peer = yield* acceptSecure(server)
      assert.isTrue((yield* readToEnd(peer)).equals(payload))
    }))

  it.live("any chunking of the peer's bytes gives the same lines and bytes", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 12 }),
          (chunks) =>
            Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const server = yield* tlsPeerServer(serverTls)
              const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), {
                tls: trust,
                readerBufferSize: 4096
              })
              const peer = yield* acceptSecure(server)
              for (const chunk of chunks) peer.write(chunk)
              peer.end()
              const all = yield* conn.reader.readAll
              assert.isTrue(Buffer.from(all).equals(Buffer.concat(chunks)))
            })))
        ),
        { numRuns: 15 }
      )
    ))

  it.scopedLive("flushed completes over TLS; a large write is back-pressured and arrives whole", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), {
        tls: trust,
        writerBufferSize: 16 * 1024
      })
      const peer = yield* acceptSecure(server)
      peer.pause()
      // More than loopback's socket buffers (a few MiB) and Node's can hold while the peer does not read.
      const payload = crypto.randomBytes(32 << 20)
      const writing = yield* Effect.fork(Effect.zipRight(conn.writer.write(payload), conn.writer.flushed))
      yield* Effect.sleep("50 millis")
      assert.isNull(writing.unsafePoll(), "the write should wait for the peer to read")
      peer.resume()
      const received: Array<Buffer> = []
      let total = 0
      yield* Effect.async<void>((resume) => {
        peer.on("data", (data: Buffer) => {
          received.push(data)
          total += data.length
          if (total >= payload.length) resume(Effect.void)
        })
      })
      yield* Fiber.join(writing)
      assert.isTrue(Buffer.concat(received).equals(payload))
    }))

  it.scopedLive("over a Unix socket (servername defaults to localhost)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tls.sock")
      const server = yield* tlsPeerServer({ ...serverTls, path: file })
      const conn = yield* Tcp.connect(WhereToConnect.file(file), { tls: trust })
      const peer = yield* acceptSecure(server)
      peer.write("over unix\n")
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("over unix"))
      assert.isTrue(Option.getOrThrow(Tls.info(conn)).authorized)
      void server
    }))

  it.scopedLive("withConnection and Reconnect take the tls option", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const where = WhereToConnect.hostAndPort("localhost", server.port)
      const echoed = yield* Effect.fork(Effect.gen(function*() {
        for (let i = 0; i < 2; i++) {
          const peer = yield* acceptSecure(server)
          peer.on("data", (data) => peer.write(data))
        }
      }))
      const line = yield* Tcp.withConnection(where, (conn) =>
        Effect.zipRight(conn.writer.writeLine("one"), conn.reader.readLine), { tls: trust })
      assert.deepStrictEqual(line, Option.some("one"))
      const again = yield* Effect.scoped(Effect.flatMap(
        Reconnect.connectWithRetry(where, Schedule.recurs(0), { tls: trust }),
        (conn) =>
          Effect.zipRight(conn.writer.writeLine("two"), conn.reader.readLine)
      ))
      assert.deepStrictEqual(again, Option.some("two"))
      yield* Fiber.join(echoed)
    }))

  it.scopedLive("the platform adapter (PlatformSocket.make) takes the tls option", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const socket = yield* PlatformSocket.make(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
      const received: Array<Uint8Array> = []
      const running = yield* Effect.fork(socket.run((bytes) => {
        received.push(bytes)
      }))
      const peer = yield* acceptSecure(server)
      const write = yield* socket.writer
      yield* write(new TextEncoder().encode("via platform\n"))
      assert.strictEqual(yield* peerRead(peer), "via platform\n")
      peer.end("bye")
      yield* Fiber.join(running)
      assert.strictEqual(Buffer.concat(received).toString(), "bye")
    }))

  it.effect("bad tls options are InvalidArgument, with no socket opened", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<[unknown, string]> = [
        ["yes", "tls"],
        [{ ca: 5 }, "tls.ca"],
        [{ ca: [] }, "tls.ca"],
        [{ ca: "not a certificate" }, "tls.ca"],
        [{ ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, "tls.ca"],
        [{ cert: certs.client.cert, key: certs.server.key }, "tls"],
        [{ cert: certs.client.cert }, "tls.cert"],
        [{ servername: "127.0.0.1" }, "tls.servername"],
        [{ servername: "" }, "tls.servername"],
        [{ alpnProtocols: [] }, "tls.alpnProtocols"],
        [{ alpnProtocols: ["x".repeat(256)] }, "tls.alpnProtocols[0]"],
        [{ minVersion: "TLSv1" }, "tls.minVersion"],
        [{ rejectUnauthorized: "no" }, "tls.rejectUnauthorized"]
      ]
      for (const [input, argument] of bad) {
        const exit = yield* Effect.exit(Effect.scoped(
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", 1), { tls: input as Tls.ClientOptions })
        ))
        assert.isTrue(Exit.isFailure(exit))
        const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause)) as {
          _tag: string
          argument: string
        }
        assert.strictEqual(error._tag, "InvalidArgument", String(input))
        assert.strictEqual(error.argument, argument, JSON.stringify(input))
      }
    }))

  it.scopedLive("a tracer that records spans gets a span for the TLS handshake (none is made otherwise)", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const { spans, tracer } = recordingTracer()
      yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust }).pipe(
        Effect.withTracer(tracer)
      )
      const handshake = spans.find((span) => span.name === "effect-tcp.tls.handshake")
      assert.isDefined(handshake)
      assert.isTrue(handshake!.exit !== undefined && Exit.isSuccess(handshake!.exit))
    }))

  it.scopedLive("release after a reply does not wait for the server's close_notify (as over plaintext)", () =>
    Effect.gen(function*() {
      // A half-open server never answers our close_notify: a wait for it would last the full 2 s.
      const server = yield* tlsPeerServer({ ...serverTls, allowHalfOpen: true })
      const started = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
        const peer = yield* acceptSecure(server)
        peer.write("hello\n")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("hello"))
        yield* conn.writer.write("last request")
        return { peer, at: Date.now() }
      }))
      const elapsed = Date.now() - started.at
      assert.isBelow(elapsed, 1_000, `release took ${elapsed} ms`)
      assert.strictEqual((yield* readToEnd(started.peer)).toString(), "last request")
    }))

  it.scopedLive("release before any reply waits, at most 2 s, for the server's close_notify (TLS 1.3 session tickets)", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer({ ...serverTls, allowHalfOpen: true })
      const started = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
        yield* conn.writer.write("request")
        return Date.now()
      }))
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, 1_900, `release took ${elapsed} ms`)
      assert.isBelow(elapsed, 5_000, `release took ${elapsed} ms`)
      assert.strictEqual((yield* readToEnd(yield* acceptSecure(server))).toString(), "request")
    }))

  it.scopedLive("the peer closing the connection after our FIN still delivers its bytes", () =>
    Effect.gen(function*() {
      const server = yield* tlsPeerServer(serverTls)
      const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", server.port), { tls: trust })
      const peer = yield* acceptSecure(server)
      yield* rawWrite(peer, "last words\n")
      peer.end()
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("last words"))
      assert.deepStrictEqual(yield* conn.reader.readLine, Option.none())
    }))
})
