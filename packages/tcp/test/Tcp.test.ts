import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import type * as net from "node:net"
import { Socket } from "node:net"
import * as path from "node:path"
import * as Address from "../src/Address.js"
import type * as Connection from "../src/Connection.js"
import * as Resolver from "../src/Resolver.js"
import * as Tcp from "../src/Tcp.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import {
  abstractName,
  accept,
  freePort,
  hangingListener,
  rawServer,
  rawWrite,
  readToEnd,
  ticks
} from "./utils/rawServer.js"
import { tempDir } from "./utils/tempDir.js"

const where = (port: number, host = "127.0.0.1") => WhereToConnect.hostAndPort(host, port)

/** Exchanges a line each way on a fresh connection: the connection works. */
const exchange = (conn: Connection.Connection<Address.Address>, peer: net.Socket) =>
  Effect.gen(function*() {
    yield* conn.writer.writeLine("ping")
    const line = yield* Effect.async<string>((resume) => {
      peer.once("data", (data) => resume(Effect.succeed(String(data))))
    })
    assert.strictEqual(line, "ping\n")
    yield* rawWrite(peer, "pong\n")
    assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("pong"))
  })

describe("Tcp.connect", () => {
  describe("where to connect", () => {
    it.scopedLive("an IPv4 literal: addresses are recorded and typed", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port))
        const peer = yield* accept(server)
        const remote: Address.Inet = conn.socket.remoteAddress
        assert.isTrue(Equal.equals(remote, Address.inet("127.0.0.1", server.port)))
        assert.isTrue(Equal.equals(conn.socket.localAddress, Address.inet("127.0.0.1", peer.remotePort!)))
        assert.isTrue(conn.socket.raw.allowHalfOpen)
        yield* exchange(conn, peer)
      }))

    it.scopedLive("IPv6 ::1 works", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ host: "::1" })
        const conn = yield* Tcp.connect(where(server.port, "::1"))
        const peer = yield* accept(server)
        assert.isTrue(Equal.equals(conn.socket.remoteAddress, Address.inet("::1", server.port)))
        assert.strictEqual(conn.socket.localAddress.host, "::1")
        yield* exchange(conn, peer)
        // A bracketed literal and an inetAddress target work too.
        const bracketed = yield* Tcp.connect(where(server.port, "[::1]"))
        yield* exchange(bracketed, yield* accept(server))
        const inet = yield* Tcp.connect(WhereToConnect.inetAddress(Address.inet("::1", server.port)))
        yield* exchange(inet, yield* accept(server))
        const port = yield* freePort("::1")
        const bound = yield* Tcp.connect(WhereToConnect.hostAndPort("::1", server.port, { viaLocalPort: port }))
        const peer2 = yield* accept(server)
        assert.strictEqual(peer2.remotePort, port)
        yield* exchange(bound, peer2)
      }))

    it.scopedLive("hostAndPort(\"localhost\", p) reaches a server bound to 127.0.0.1 only", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ host: "127.0.0.1" })
        const conn = yield* Tcp.connect(where(server.port, "localhost"))
        yield* exchange(conn, yield* accept(server))
        assert.strictEqual(conn.socket.remoteAddress.host, "127.0.0.1")
      }))

    it.scopedLive("a name with IPv6 and IPv4 addresses: ::1 is refused, 127.0.0.1 is reached", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ host: "127.0.0.1" })
        const conn = yield* Tcp.connect(where(server.port, "both.test"))
        yield* exchange(conn, yield* accept(server))
        assert.strictEqual(conn.socket.remoteAddress.host, "127.0.0.1")
        // family restricts the resolution.
        const v4 = yield* Tcp.connect(where(server.port, "both.test"), { family: 4 })
        yield* exchange(v4, yield* accept(server))
        const v6 = yield* Effect.flip(Tcp.connect(where(server.port, "both.test"), { family: 6 }))
        assert.strictEqual(v6._tag, "ConnectError")
      }).pipe(Effect.provide(Resolver.layerStatic({ "both.test": ["::1", "127.0.0.1"] }))))

    it.scopedLive("viaLocalPort: the server sees the chosen local port", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const port = yield* freePort()
        const conn = yield* Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port, { viaLocalPort: port }))
        const peer = yield* accept(server)
        assert.strictEqual(peer.remotePort, port)
        assert.strictEqual(conn.socket.localAddress.port, port)
        yield* exchange(conn, peer)
      }))

    it.scopedLive("viaLocalInterface: the server sees the chosen local address (and with viaLocalPort, both)", () =>
      Effect.gen(function*() {
        const server = yield* rawServer({ host: "127.0.0.1" })
        const conn = yield* Tcp.connect(
          WhereToConnect.hostAndPort("127.0.0.1", server.port, { viaLocalInterface: "127.0.0.2" })
        )
        const peer = yield* accept(server)
        assert.strictEqual(peer.remoteAddress, "127.0.0.2")
        assert.strictEqual(conn.socket.localAddress.host, "127.0.0.2")
        yield* exchange(conn, peer)
        const port = yield* freePort("127.0.0.3")
        const both = yield* Tcp.connect(
          WhereToConnect.inetAddress(Address.inet("127.0.0.1", server.port), {
            viaLocalInterface: "127.0.0.3",
            viaLocalPort: port
          })
        )
        const peer2 = yield* accept(server)
        assert.strictEqual(peer2.remoteAddress, "127.0.0.3")
        assert.strictEqual(peer2.remotePort, port)
        yield* exchange(both, peer2)
      }))

    it.scopedLive("a Unix socket path", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const file = path.join(dir, "s.sock")
        const server = yield* rawServer({ path: file })
        const conn = yield* Tcp.connect(WhereToConnect.file(file))
        const remote: Address.Unix = conn.socket.remoteAddress
        assert.isTrue(Equal.equals(remote, Address.unix(file)))
        yield* exchange(conn, yield* accept(server))
        const viaAddress = yield* Tcp.connect(WhereToConnect.unixAddress(Address.unix(file)))
        yield* exchange(viaAddress, yield* accept(server))
      }))

    it.scopedLive("a Linux abstract socket (\"\\0name\")", () =>
      Effect.gen(function*() {
        const name = abstractName()
        const server = yield* rawServer({ path: name })
        const conn = yield* Tcp.connect(WhereToConnect.file(name))
        assert.strictEqual(conn.socket.remoteAddress.path, name)
        yield* exchange(conn, yield* accept(server))
      }))

    it.scopedLive("withConnection releases the connection when f ends, fails or is interrupted", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const sockets: Array<net.Socket> = []
        const result = yield* Tcp.withConnection(where(server.port), (conn) => {
          sockets.push(conn.socket.raw)
          return Effect.succeed(42)
        })
        assert.strictEqual(result, 42)
        const failed = yield* Effect.flip(Tcp.withConnection(where(server.port), (conn) => {
          sockets.push(conn.socket.raw)
          return Effect.fail("boom" as const)
        }))
        assert.strictEqual(failed, "boom")
        const fiber = yield* Effect.fork(Tcp.withConnection(where(server.port), (conn) => {
          sockets.push(conn.socket.raw)
          return Effect.never
        }))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(sockets.length, 3)
        for (const socket of sockets) assert.isTrue(socket.closed, "closed")
      }))

    it.scopedLive("options.socket: the given unconnected socket is the one connected (and closed with the scope)", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const given = new Socket()
        yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* Tcp.connect(where(server.port), { socket: given })
          assert.strictEqual(conn.socket.raw, given)
          yield* exchange(conn, yield* accept(server))
        }))
        assert.isTrue(given.closed)
      }))

    it.scopedLive("connectSock: a connected socket without reader and writer, closed with the scope", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        let raw: net.Socket | undefined
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* Tcp.connectSock(where(server.port))
          raw = socket.raw
          assert.strictEqual(socket.remoteAddress.port, server.port)
          const peer = yield* accept(server)
          const received = yield* Effect.fork(readToEnd(peer))
          socket.raw.end("raw\n")
          assert.strictEqual((yield* Fiber.join(received)).toString(), "raw\n")
        }))
        assert.isTrue(raw!.closed)
      }))
  })

  describe("failures", () => {
    it.scopedLive("refused: ConnectError Refused, with the attempt", () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        const error = yield* Effect.flip(Tcp.connect(where(port)))
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag !== "ConnectError") return
        assert.strictEqual(error.reason, "Refused")
        assert.strictEqual(error.attempts.length, 1)
        assert.isTrue(Equal.equals(error.attempts[0]!.address, Address.inet("127.0.0.1", port)))
        assert.strictEqual(error.attempts[0]!.reason, "Refused")
        assert.include(error.message, "Refused")
      }))

    it.scopedLive("refused on every address of a name: one attempt per address", () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        const error = yield* Effect.flip(Tcp.connect(where(port, "both.test")))
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag !== "ConnectError") return
        assert.strictEqual(error.reason, "Refused")
        assert.deepStrictEqual(error.attempts.map((a) => [Address.format(a.address), a.reason]), [
          [`[::1]:${port}`, "Refused"],
          [`127.0.0.1:${port}`, "Refused"]
        ])
      }).pipe(Effect.provide(Resolver.layerStatic({ "both.test": ["::1", "127.0.0.1"] }))))

    it.scopedLive("a Unix path with no server: Refused", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const error = yield* Effect.flip(Tcp.connect(WhereToConnect.file(path.join(dir, "nobody.sock"))))
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Refused")
      }))

    it.live("host not found (Resolver.layerStatic): ConnectError HostNotFound", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Tcp.connect(where(80, "nowhere.test")).pipe(Effect.scoped))
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") {
          assert.strictEqual(error.reason, "HostNotFound")
          assert.strictEqual(error.attempts.length, 0)
        }
      }).pipe(Effect.provide(Resolver.layerStatic({ "other.test": ["127.0.0.1"] }))))

    it.live("resolveTimeout: a resolver that never answers fails ConnectError Timeout", () =>
      Effect.gen(function*() {
        const start = Date.now()
        const error = yield* Effect.flip(
          Tcp.connect(where(80, "slow.test"), { resolveTimeout: "200 millis" }).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Timeout")
        assert.isBelow(Date.now() - start, 3_000)
      }).pipe(Effect.provideService(Resolver.Resolver, { lookup: () => Effect.never })))
  })

  it.scopedLive("timeout bounds the handshake, not name resolution (which has resolveTimeout)", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* Tcp.connect(where(server.port, "slow.test"), {
        timeout: "150 millis",
        resolveTimeout: "5 seconds"
      })
        .pipe(Effect.provideService(Resolver.Resolver, {
          lookup: () => Effect.as(Effect.sleep("400 millis"), [{ address: "127.0.0.1", family: 4 as const }])
        }))
      yield* exchange(conn, yield* accept(server))
    }))

  describe("timeout and interruption (a listener whose accept queue is full)", () => {
    it.scopedLive("timeout: ConnectError Timeout, and no descriptor left", () =>
      Effect.gen(function*() {
        const listener = yield* hangingListener
        const baseline = fdCount()
        const start = Date.now()
        const error = yield* Effect.flip(
          Tcp.connect(where(listener.port), { timeout: "300 millis" }).pipe(Effect.scoped)
        )
        const elapsed = Date.now() - start
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Timeout")
        assert.isAtLeast(elapsed, 250)
        assert.isBelow(elapsed, 5_000)
        yield* expectFdsBackTo(baseline)
      }))

    it.scopedLive("the interrupt option (an Effect): ConnectError Interrupted", () =>
      Effect.gen(function*() {
        const listener = yield* hangingListener
        const baseline = fdCount()
        const error = yield* Effect.flip(
          Tcp.connect(where(listener.port), { interrupt: Effect.sleep("100 millis") }).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Interrupted")
        yield* expectFdsBackTo(baseline)
      }))

    it.scopedLive("the interrupt option (an AbortSignal): ConnectError Interrupted, also when already aborted", () =>
      Effect.gen(function*() {
        const listener = yield* hangingListener
        const baseline = fdCount()
        const controller = new AbortController()
        setTimeout(() => controller.abort(), 100)
        const error = yield* Effect.flip(
          Tcp.connect(where(listener.port), { interrupt: controller.signal }).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "ConnectError")
        if (error._tag === "ConnectError") assert.strictEqual(error.reason, "Interrupted")
        const already = yield* Effect.flip(
          Tcp.connect(where(listener.port), { interrupt: AbortSignal.abort() }).pipe(Effect.scoped)
        )
        assert.strictEqual(already._tag, "ConnectError")
        if (already._tag === "ConnectError") assert.strictEqual(already.reason, "Interrupted")
        yield* expectFdsBackTo(baseline)
      }))

    it.scopedLive("the interrupt option does not fire once connected", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const conn = yield* Tcp.connect(where(server.port), { interrupt: Effect.sleep("20 millis") })
        yield* Effect.sleep("60 millis")
        yield* exchange(conn, yield* accept(server))
      }))

    it.scopedLive("interrupting the connecting fiber is a plain interruption, and leaves no descriptor", () =>
      Effect.gen(function*() {
        const listener = yield* hangingListener
        const baseline = fdCount()
        const fiber = yield* Effect.fork(
          Tcp.connect(where(listener.port), { timeout: "10 seconds" }).pipe(Effect.scoped)
        )
        yield* Effect.sleep("100 millis")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isTrue(Cause.isInterruptedOnly(exit.cause), Cause.pretty(exit.cause))
          assert.isTrue(Option.isNone(Cause.failureOption(exit.cause)))
        }
        yield* expectFdsBackTo(baseline)
      }))
  })

  it.scopedLive(
    "interrupting connect, reads and writes at random points leaves the descriptors at their baseline",
    () =>
      Effect.gen(function*() {
        // The peer greets, echoes, and sends a burst on request: the client's steps take a few turns.
        const server = yield* rawServer({
          onConnection: (socket) => {
            socket.write("hello\n")
            socket.on("data", (data: Buffer) => {
              if (data.includes("burst")) socket.write(Buffer.alloc(256 * 1024, 0x61))
              socket.write(data)
            })
            socket.on("end", () => socket.end())
          }
        })
        const listener = yield* hangingListener
        const baseline = fdCount()
        const client = (hang: boolean) =>
          Effect.scoped(Effect.gen(function*() {
            const conn = yield* Tcp.connect(where(hang ? listener.port : server.port), { readerBufferSize: 4096 })
            assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("hello"))
            yield* conn.writer.writeLine("burst")
            yield* conn.reader.readExactly(256 * 1024)
            assert.deepStrictEqual(yield* conn.reader.readLine, Option.some("burst"))
            yield* conn.writer.write(Buffer.alloc(512 * 1024, 0x62))
            yield* conn.writer.flushed
          }))
        let completed = 0
        let interrupted = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.nat({ max: 40 }), fc.boolean(), fc.integer({ min: 0, max: 9 }), (after, sleep, kind) =>
              Effect.runPromise(Effect.gen(function*() {
                const fiber = yield* Effect.fork(client(kind === 0))
                if (sleep) yield* Effect.sleep(`${after % 5} millis`)
                else yield* ticks(after)
                const exit = yield* Fiber.interrupt(fiber)
                if (Exit.isSuccess(exit)) {
                  completed++
                } else if (Cause.isInterruptedOnly(exit.cause)) {
                  interrupted++
                } else assert.fail(`unexpected failure: ${Cause.pretty(exit.cause)}`)
              }))),
            { numRuns: 250 }
          )
        )
        // Both outcomes happen (typically about a third of the clients complete).
        assert.isAbove(interrupted, 0)
        assert.isAbove(completed, 0)
        yield* expectFdsBackTo(baseline, 10_000)
      }),
    60_000
  )
})
