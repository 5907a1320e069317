// `etcp connect` against peers nobody here wrote: nc (netcat-openbsd) and socat, over TCP and
// Unix sockets; and its exit statuses.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { etcp, etcpBackground, freePort, requirePeer, spawn, tempDir } from "./support.js"

const oneLine = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  assert.strictEqual(lines.length, 1, `expected one line on stderr, got: ${stderr}`)
  assert.notMatch(stderr, /\n\s+at /, "no stack trace")
  return lines[0]!
}

describe("etcp connect", () => {
  it.scopedLive("talks to nc -l over TCP both ways and half-closes when its input ends", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      const nc = yield* spawn("nc", ["-v", "-l", "127.0.0.1", "0"])
      const port = Number((yield* nc.waitFor("stderr", /Listening on \S+ ([0-9]+)/))[1])
      const client = yield* etcpBackground(["connect", "127.0.0.1", String(port)])
      yield* client.write("from etcp\n")
      yield* nc.waitFor("stdout", /from etcp\n/)
      yield* nc.write("from nc\n")
      yield* client.waitFor("stdout", /from nc\n/)
      // End of our input: etcp sends FIN; nc in listen mode exits at end of its input from the network,
      // which closes the connection; only then does etcp exit.
      yield* client.end
      assert.strictEqual(yield* nc.exit, 0)
      assert.strictEqual(yield* client.exit, 0, client.stderr())
    }))

  it.scopedLive("keeps reading after the half-close until socat's program answers and closes (TCP)", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const socat = yield* spawn("socat", ["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "SYSTEM:'wc -c; echo done'"])
      const port = Number((yield* socat.waitFor("stderr", /listening on AF=2 [0-9.]+:([0-9]+)/))[1])
      const input = "x".repeat(100_000)
      const result = yield* etcp(["connect", "127.0.0.1", String(port)], { input })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString().trim().split(/\s+/).join(" "), "100000 done")
      assert.strictEqual(yield* socat.exit, 0)
    }))

  it.scopedLive("talks to nc -lU and socat UNIX-LISTEN over a Unix socket", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      requirePeer("socat", "socat")
      const dir = yield* tempDir
      const ncPath = path.join(dir, "nc.sock")
      const nc = yield* spawn("nc", ["-v", "-lU", ncPath])
      yield* nc.waitFor("stderr", /Listening on/)
      const client = yield* etcpBackground(["connect", "--unix", ncPath])
      yield* client.write("unix from etcp\n")
      yield* nc.waitFor("stdout", /unix from etcp\n/)
      yield* nc.write("unix from nc\n")
      yield* client.waitFor("stdout", /unix from nc\n/)
      yield* client.end
      assert.strictEqual(yield* nc.exit, 0)
      assert.strictEqual(yield* client.exit, 0, client.stderr())

      const socatPath = path.join(dir, "socat.sock")
      const socat = yield* spawn("socat", ["-d", "-d", `UNIX-LISTEN:${socatPath}`, "SYSTEM:'tr a-z A-Z'"])
      yield* socat.waitFor("stderr", /listening on AF=1/)
      const result = yield* etcp(["connect", "-U", socatPath], { input: "shout over unix\n" })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "SHOUT OVER UNIX\n")
      assert.strictEqual(yield* socat.exit, 0)
    }))

  it.scopedLive("binds the local end with --local-address and --local-port (socat reports the peer)", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const socat = yield* spawn("socat", [
        "-d",
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1",
        "SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT'"
      ])
      const port = Number((yield* socat.waitFor("stderr", /listening on AF=2 [0-9.]+:([0-9]+)/))[1])
      const localPort = yield* freePort
      const result = yield* etcp(
        ["connect", "--local-address", "127.0.0.1", "--local-port", String(localPort), "127.0.0.1", String(port)],
        { input: "" }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString().trim(), `127.0.0.1 ${localPort}`)
    }))

  it.live("exit status 3 and one line when the connection is refused", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const result = yield* etcp(["connect", "127.0.0.1", String(port)], { input: "" })
      assert.strictEqual(result.code, 3)
      assert.match(oneLine(result.stderr), /^etcp: connect to 127\.0\.0\.1:[0-9]+ failed: Refused/)
    }))

  it.live("exit status 5 when the host is not found", () =>
    Effect.gen(function*() {
      // A 64-character label is invalid: the system resolver rejects it without a DNS query.
      const host = `${"a".repeat(64)}.invalid`
      const result = yield* etcp(["connect", host, "80"], { input: "" })
      assert.strictEqual(result.code, 5, result.stderr)
      assert.match(oneLine(result.stderr), /HostNotFound/)
    }))

  it.scopedLive("exit status 4 when --timeout expires (a listener whose accept queue is full)", () =>
    Effect.gen(function*() {
      requirePeer("python3", "python3")
      const script = fileURLToPath(new URL("./full-backlog.py", import.meta.url))
      const full = yield* spawn("python3", [script, "60"])
      const port = Number((yield* full.waitFor("stdout", /^([0-9]+)$/m))[1])
      const started = Date.now()
      const result = yield* etcp(["connect", "--timeout", "1", "127.0.0.1", String(port)], { input: "" })
      assert.strictEqual(result.code, 4, result.stderr)
      assert.match(oneLine(result.stderr), /Timeout/)
      assert.isBelow(Date.now() - started, 30_000)
    }))

  it.live("exit status 2 and a readable line for bad usage", () =>
    Effect.gen(function*() {
      const badPort = yield* etcp(["connect", "127.0.0.1", "99999"], { input: "" })
      assert.strictEqual(badPort.code, 2)
      assert.match(oneLine(badPort.stderr), /invalid port "99999"/)
      const missing = yield* etcp(["connect", "127.0.0.1"], { input: "" })
      assert.strictEqual(missing.code, 2)
      assert.match(missing.stderr, /127\.0\.0\.1/)
      const both = yield* etcp(["connect", "--unix", "/tmp/x", "127.0.0.1", "80"], { input: "" })
      assert.strictEqual(both.code, 2)
      const unknown = yield* etcp(["connect", "--bogus", "127.0.0.1", "80"], { input: "" })
      assert.strictEqual(unknown.code, 2)
      assert.notMatch(unknown.stderr, /\n\s+at /)
    }))

  it.scopedLive("prints what arrives even when its own input never ends, and exits when the peer closes", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const socat = yield* spawn("socat", ["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "SYSTEM:'echo banner'"])
      const port = Number((yield* socat.waitFor("stderr", /listening on AF=2 [0-9.]+:([0-9]+)/))[1])
      const client = yield* etcpBackground(["connect", "127.0.0.1", String(port)])
      yield* client.waitFor("stdout", /banner\n/)
      assert.strictEqual(yield* client.exit, 0, client.stderr())
    }))
})
