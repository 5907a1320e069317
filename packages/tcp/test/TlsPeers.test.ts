/**
 * TLS against peers nobody here wrote: `openssl s_server` / `s_client`, `socat` OPENSSL
 * addresses and a real `redis-server` on its TLS port, all on loopback, stopped by PID.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Address from "../src/Address.js"
import type * as Connection from "../src/Connection.js"
import * as Server from "../src/Server.js"
import * as Tcp from "../src/Tcp.js"
import { ConnectError } from "../src/TcpError.js"
import * as Tls from "../src/Tls.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { testCertificates } from "./utils/certs.js"
import { eventually } from "./utils/eventually.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { freePort } from "./utils/rawServer.js"
import { echo, localhost } from "./utils/server.js"
import { spawn, waitListening } from "./utils/tlsPeers.js"

const certs = testCertificates()
const trust = { ca: certs.ca.cert }
const serverTls: Tls.ServerOptions = { certificates: [{ cert: certs.server.cert, key: certs.server.key }] }

/** `openssl s_server -rev` (answers each line reversed) on a free loopback port. */
const sServer = (pair: { readonly certFile: string; readonly keyFile: string }, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const port = yield* freePort()
    const child = yield* spawn("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      pair.certFile,
      "-key",
      pair.keyFile,
      "-rev",
      ...extra
    ])
    yield* child.waitFor(/ACCEPT/)
    return { port, child }
  })

/** `openssl s_client` connecting to `port`, sending `input`; its whole output once it exits. */
const sClient = (port: number, input: string, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const child = yield* spawn("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-CAfile",
      certs.ca.certFile,
      "-servername",
      "localhost",
      "-verify_return_error",
      "-ign_eof",
      ...extra
    ])
    yield* child.write(input)
    // The server closes after its answer; s_client then exits.
    yield* Effect.timeoutFail(child.exited, {
      duration: "10 seconds",
      onTimeout: () => new Error(`s_client did not exit:\n${child.output()}`)
    })
    return child.output()
  })

/** Answers one line, then closes. */
const echoOneLine = (conn: Connection.Connection<Address.Address>) =>
  Effect.flatMap(conn.reader.readLine, (line) => conn.writer.writeLine(Option.getOrElse(line, () => "")))

const connectFailure = <A, E>(exit: Exit.Exit<A, E>): ConnectError => {
  assert.isTrue(Exit.isFailure(exit), "the connect should have failed")
  const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<A, E>).cause))
  assert.isTrue(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`)
  return error as ConnectError
}

const failures = (reason: string) =>
  Effect.map(Metric.value(Metric.tagged(Tls.handshakeFailures, "reason", reason)), (state) => state.count)

describe("TLS against real peers", () => {
  describe("openssl s_server as the server of our client", () => {
    it.scopedLive("lines go both ways; ALPN and the certificate are reported", () =>
      Effect.gen(function*() {
        const { port } = yield* sServer(certs.server, ["-alpn", "effect-tcp/1,http/1.1"])
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), {
          tls: { ...trust, alpnProtocols: ["http/1.1"] }
        })
        yield* conn.writer.writeLine("hello openssl")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("lssnepo olleh"))
        const info = Option.getOrThrow(Tls.info(conn))
        assert.deepStrictEqual(info.alpnProtocol, Option.some("http/1.1"))
        assert.strictEqual(Option.getOrThrow(info.peerCertificate).subject.CN, "localhost")
      }))

    it.scopedLive("mutual TLS: s_server -Verify asks for our certificate", () =>
      Effect.gen(function*() {
        const { child, port } = yield* sServer(certs.server, ["-Verify", "1", "-CAfile", certs.ca.certFile])
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), {
          tls: { ...trust, cert: certs.client.cert, key: certs.client.key }
        })
        yield* conn.writer.writeLine("abc")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("cba"))
        yield* child.waitFor(/effect-tcp test client/) // s_server prints the verified client certificate
      }))

    it.scopedLive("mutual TLS 1.3: s_server refuses an untrusted client certificate; our first read fails with its alert", () =>
      Effect.gen(function*() {
        const { port } = yield* sServer(certs.server, [
          "-Verify",
          "1",
          "-verify_return_error",
          "-CAfile",
          certs.ca.certFile
        ])
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", port), {
          tls: { ...trust, cert: certs.untrusted.cert, key: certs.untrusted.key }
        })
        assert.strictEqual(Option.getOrThrow(Tls.info(conn)).protocol, "TLSv1.3")
        const error = yield* Effect.flip(conn.reader.readLine)
        assert.strictEqual(error.reason, "Unknown")
        assert.strictEqual((error.cause as { code?: string }).code, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")
      }))

    const kinds: ReadonlyArray<{
      readonly name: string
      readonly pair: { readonly certFile: string; readonly keyFile: string }
      readonly extra?: ReadonlyArray<string>
      readonly client?: Tls.ClientOptions
      readonly reason: Tls.HandshakeFailureReason
    }> = [
      { name: "untrusted", pair: certs.untrusted, reason: "CertificateUntrusted" },
      { name: "host name mismatch", pair: certs.wrongName, reason: "HostnameMismatch" },
      { name: "expired", pair: certs.expired, reason: "CertificateExpired" },
      {
        name: "protocol: TLS 1.2 only against minVersion TLS 1.3",
        pair: certs.server,
        extra: ["-no_tls1_3"],
        client: { ...trust, minVersion: "TLSv1.3" },
        reason: "HandshakeFailed"
      }
    ]
    for (const kind of kinds) {
      it.scopedLive(`every failure kind is typed: ${kind.name}; no descriptor left`, () =>
        Effect.gen(function*() {
          const { port } = yield* sServer(kind.pair, kind.extra)
          const baseline = fdCount()
          const exit = yield* Effect.exit(Effect.scoped(
            Tcp.connect(WhereToConnect.hostAndPort("localhost", port), { tls: kind.client ?? trust })
          ))
          const error = connectFailure(exit)
          assert.strictEqual(error.reason, kind.reason, error.message)
          const cause = error.cause as Tls.TlsError
          assert.strictEqual(cause._tag, "TlsError")
          assert.isString(cause.code)
          assert.deepStrictEqual(error.attempts[0]!.address, cause.address)
          yield* expectFdsBackTo(baseline)
        }))
    }
  })

  describe("openssl s_client as the client of our server", () => {
    it.scopedLive("echo over TLS with ALPN", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, echoOneLine, {
          tls: { ...serverTls, alpnProtocols: ["effect-tcp/1"] }
        })
        const output = yield* sClient(server.listeningOn, "from s_client\n", ["-alpn", "effect-tcp/1"])
        assert.match(output, /ALPN protocol: effect-tcp\/1/)
        assert.match(output, /Verify return code: 0 \(ok\)/)
        assert.match(output, /from s_client/)
      }))

    it.scopedLive("mutual TLS: with the client certificate it is served, without it the handshake fails (counted)", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) => conn.writer.writeLine("welcome"), {
          tls: { ...serverTls, requestCert: true, ca: certs.ca.cert }
        })
        const withCert = yield* sClient(server.listeningOn, "", [
          "-cert",
          certs.client.certFile,
          "-key",
          certs.client.keyFile
        ])
        assert.match(withCert, /welcome/)
        const before = yield* failures("CertificateUntrusted")
        const without = yield* sClient(server.listeningOn, "")
        assert.notMatch(without, /welcome/)
        yield* eventually(failures("CertificateUntrusted"), (n) => n === before + 1, "the failure counted")
      }))
  })

  describe("socat", () => {
    it.scopedLive("socat OPENSSL-LISTEN as the server of our client", () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        yield* spawn("socat", [
          `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,cert=${certs.server.certFile},key=${certs.server.keyFile},verify=0`,
          "PIPE"
        ])
        // No probe: socat without `fork` serves one connection, then exits.
        const conn = yield* Effect.retry(
          Tcp.connect(WhereToConnect.hostAndPort("localhost", port), { tls: trust }),
          {
            schedule: Schedule.intersect(Schedule.spaced("50 millis"), Schedule.recurs(100)),
            while: (error) => error._tag === "ConnectError" && error.reason === "Refused"
          }
        )
        yield* conn.writer.writeLine("through socat")
        assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("through socat"))
      }))

    it.scopedLive("socat OPENSSL as the client of our server", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) => Effect.zipRight(echo(conn), conn.writer.close), {
          tls: serverTls
        })
        const client = yield* spawn("socat", [
          "-",
          `OPENSSL:127.0.0.1:${server.listeningOn},cafile=${certs.ca.certFile},commonname=localhost`
        ])
        yield* client.write("socat says hi\n")
        client.process.stdin!.end()
        yield* client.exited
        assert.strictEqual(client.output(), "socat says hi\n")
      }))
  })

  it.scopedLive("a real redis-server on its TLS port answers our client", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      yield* spawn("redis-server", [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--tls-cert-file",
        certs.server.certFile,
        "--tls-key-file",
        certs.server.keyFile,
        "--tls-ca-cert-file",
        certs.ca.certFile,
        "--tls-auth-clients",
        "no",
        "--save",
        "",
        "--appendonly",
        "no"
      ])
      yield* waitListening(port)
      const baseline = fdCount()
      const replies = yield* Tcp.withConnection(WhereToConnect.hostAndPort("127.0.0.1", port), (conn) =>
        Effect.gen(function*() {
          yield* conn.writer.write("PING\r\nSET effect-tcp:tls over-tls\r\nGET effect-tcp:tls\r\n")
          const lines: Array<string> = []
          for (let i = 0; i < 4; i++) {
            lines.push(Option.getOrElse(yield* conn.reader.readLine, () =>
              "<eof>"))
          }
          return lines
        }), { tls: trust })
      assert.deepStrictEqual(replies, ["+PONG", "+OK", "$8", "over-tls"])
      yield* expectFdsBackTo(baseline)
    }))
})
