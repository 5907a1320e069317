// `etcp listen` and effect-tcp's `Server.make` against peers nobody here wrote: nc
// (netcat-openbsd) and socat, over TCP and Unix sockets.
import { assert, describe, it } from "@effect/vitest"
import { BindToAddress, BindToPort, Server, WhereToListen } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { echo } from "../src/exchange.js"
import { etcpBackground, listeningPort, randomBytes, requirePeer, run, sha256, spawn, tempDir } from "./support.js"

describe("etcp listen", () => {
  it.scopedLive("serves one nc client over TCP, both ways, then exits", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      const listener = yield* etcpBackground(["listen", "--host", "127.0.0.1", "--verbose"])
      yield* listener.write("from etcp\n")
      const port = yield* listeningPort(listener)
      // -N: shut down the sending side at the end of standard input (etcp then sees end of stream).
      const nc = yield* run("nc", ["-N", "127.0.0.1", String(port)], { input: "from nc\n" })
      assert.strictEqual(nc.code, 0, nc.stderr)
      assert.strictEqual(nc.stdout.toString(), "from etcp\n")
      assert.strictEqual(yield* listener.exit, 0, listener.stderr())
      assert.strictEqual(listener.stdout().toString(), "from nc\n")
      assert.match(listener.stderr(), /connection from 127\.0\.0\.1:[0-9]+\n/)
    }))

  it.scopedLive("serves a socat client over a Unix socket", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const dir = yield* tempDir
      const socketPath = path.join(dir, "listen.sock")
      const listener = yield* etcpBackground(["listen", "--unix", socketPath])
      yield* listener.write("hello from etcp\n")
      yield* listener.waitFor("stderr", /listening on .*listen\.sock/)
      const socat = yield* run("socat", ["-t", "30", "-", `UNIX-CONNECT:${socketPath}`], {
        input: "hello from socat\n"
      })
      assert.strictEqual(socat.code, 0, socat.stderr)
      assert.strictEqual(socat.stdout.toString(), "hello from etcp\n")
      assert.strictEqual(yield* listener.exit, 0, listener.stderr())
      assert.strictEqual(listener.stdout().toString(), "hello from socat\n")
    }))

  it.scopedLive("closes its listener once its one client has arrived (a second client is refused)", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      const listener = yield* etcpBackground(["listen", "--host", "127.0.0.1", "-v"])
      const port = yield* listeningPort(listener)
      const first = yield* spawn("nc", ["-N", "127.0.0.1", String(port)])
      yield* listener.waitFor("stderr", /connection from/)
      const second = yield* run("nc", ["-v", "-N", "-w", "5", "127.0.0.1", String(port)], { input: "late\n" })
      assert.strictEqual(second.code, 1)
      assert.match(second.stderr, /refused/i)
      yield* first.write("first\n")
      yield* first.end
      assert.strictEqual(yield* first.exit, 0)
      assert.strictEqual(yield* listener.exit, 0, listener.stderr())
      assert.strictEqual(listener.stdout().toString(), "first\n")
    }))

  it.scopedLive("--echo --keep-open --max-connections 3 echoes 6 concurrent socat clients exactly", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const listener = yield* etcpBackground([
        "listen",
        "--echo",
        "--keep-open",
        "--max-connections",
        "3",
        "--host",
        "127.0.0.1"
      ])
      const port = yield* listeningPort(listener)
      const results = yield* Effect.all(
        Array.from({ length: 6 }, (_, i) => {
          const input = randomBytes(200_000 + i * 1000, i + 1)
          return run("socat", ["-t", "30", "-", `TCP:127.0.0.1:${port}`], { input }).pipe(
            Effect.map((r) => ({ r, expected: sha256(input) }))
          )
        }),
        { concurrency: "unbounded" }
      )
      for (const { expected, r } of results) {
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(sha256(r.stdout), expected)
      }
      // Still listening (--keep-open); SIGINT ends it with status 130.
      process.kill(listener.pid, "SIGINT")
      assert.strictEqual(yield* listener.exit, 130)
    }))

  it.scopedLive("--max-connections 1: a second client waits, connected, until the first leaves", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      const listener = yield* etcpBackground([
        "listen",
        "--echo",
        "--keep-open",
        "--max-connections",
        "1",
        "--host",
        "127.0.0.1"
      ])
      const port = yield* listeningPort(listener)
      const a = yield* spawn("nc", ["-N", "127.0.0.1", String(port)])
      yield* a.write("a1\n")
      yield* a.waitFor("stdout", /a1\n/)
      const b = yield* spawn("nc", ["-N", "127.0.0.1", String(port)])
      yield* b.write("b1\n")
      yield* Effect.sleep("1 second")
      assert.strictEqual(b.stdout().toString(), "", "the second client is held, not served")
      yield* a.end
      assert.strictEqual(yield* a.exit, 0)
      yield* b.waitFor("stdout", /b1\n/)
      yield* b.end
      assert.strictEqual(yield* b.exit, 0)
    }))
})

describe("Server.make with nc and socat as clients", () => {
  it.scopedLive("an echo server over TCP: nc and socat get back exactly what they sent", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      requirePeer("socat", "socat")
      const server = yield* Server.make(
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
        echo,
        { maxConnections: 8 }
      )
      const input = randomBytes(1_000_000, 7)
      const [nc, socat] = yield* Effect.all([
        run("nc", ["-N", "127.0.0.1", String(server.listeningOn)], { input }),
        run("socat", ["-t", "30", "-", `TCP:127.0.0.1:${server.listeningOn}`], { input })
      ], { concurrency: 2 })
      assert.strictEqual(nc.code, 0, nc.stderr)
      assert.strictEqual(sha256(nc.stdout), sha256(input))
      assert.strictEqual(socat.code, 0, socat.stderr)
      assert.strictEqual(sha256(socat.stdout), sha256(input))
    }))

  it.scopedLive("an echo server over a Unix socket: nc -U and socat UNIX-CONNECT", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      requirePeer("socat", "socat")
      const dir = yield* tempDir
      const socketPath = path.join(dir, "echo.sock")
      const server = yield* Server.make(WhereToListen.onFile(socketPath), echo)
      assert.strictEqual(server.listeningOn, socketPath)
      const input = randomBytes(500_000, 9)
      const [nc, socat] = yield* Effect.all([
        run("nc", ["-N", "-U", socketPath], { input }),
        run("socat", ["-t", "30", "-", `UNIX-CONNECT:${socketPath}`], { input })
      ], { concurrency: 2 })
      assert.strictEqual(nc.code, 0, nc.stderr)
      assert.strictEqual(sha256(nc.stdout), sha256(input))
      assert.strictEqual(socat.code, 0, socat.stderr)
      assert.strictEqual(sha256(socat.stdout), sha256(input))
    }))
})
