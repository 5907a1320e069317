// Redis peers nobody here wrote: redis-cli and redis-benchmark against the RESP server example
// (packages/examples/resp-server), and effect-tcp clients against a real redis-server. The same
// command script runs against both servers and must get the same replies.
import { assert, describe, it } from "@effect/vitest"
import {
  type Address,
  BindToAddress,
  BindToPort,
  type Reader,
  Server,
  Tcp,
  WhereToConnect,
  WhereToListen
} from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Resp from "../../examples/resp-server/main.js"
import { testCertificates } from "../../tcp/test/utils/certs.js"
import { cliDir, freePort, requirePeer, run, sha256 as sha, spawn, tempDir } from "./support.js"

type Reply =
  | { readonly simple: string }
  | { readonly error: string }
  | number
  | string
  | null
  | ReadonlyArray<Reply>

/** Reads one RESP2 reply; bulk strings are decoded as latin1 (byte for byte). */
const readReply = (reader: Reader.Reader): Effect.Effect<Reply, unknown> =>
  Effect.gen(function*() {
    const line = Option.getOrThrow(yield* reader.readLine)
    const rest = line.slice(1)
    switch (line[0]) {
      case "+":
        return { simple: rest }
      case "-":
        return { error: rest }
      case ":":
        return Number(rest)
      case "$": {
        const n = Number(rest)
        if (n < 0) return null
        const bytes = yield* reader.readExactly(n + 2)
        return Buffer.from(bytes.subarray(0, n)).toString("latin1")
      }
      case "*": {
        const n = Number(rest)
        if (n < 0) return null
        const items: Array<Reply> = []
        for (let i = 0; i < n; i++) items.push(yield* readReply(reader))
        return items
      }
      default:
        return yield* Effect.fail(new Error(`bad reply line ${JSON.stringify(line)}`))
    }
  })

const command = (...args: ReadonlyArray<string | Uint8Array>): Uint8Array => {
  const parts: Array<Buffer> = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a, "utf8") : Buffer.from(a)
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"))
  }
  return Buffer.concat(parts)
}

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

/** The script: every command's reply, in order; 1000 INCRs are pipelined (written before any reply is read). */
const script = <A extends Address.Address>(where: WhereToConnect.WhereToConnect<A>) =>
  Tcp.withConnection(where, (conn) =>
    Effect.gen(function*() {
      const replies: Array<Reply> = []
      const ask = (...args: ReadonlyArray<string | Uint8Array>) =>
        Effect.gen(function*() {
          yield* conn.writer.write(command(...args))
          replies.push(yield* readReply(conn.reader))
        })
      yield* ask("PING")
      yield* ask("PING", "hi there")
      yield* ask("ECHO", "héllo, wörld")
      yield* ask("SET", "k", "v")
      yield* ask("GET", "k")
      yield* ask("SET", "bin", allBytes)
      yield* ask("GET", "bin")
      yield* ask("SET", "k2", "v", "NX")
      yield* ask("SET", "k2", "other", "NX")
      yield* ask("SET", "k3", "v", "XX")
      yield* ask("SET", "k4", "v4", "EX", "100")
      yield* ask("GET", "k4")
      yield* ask("SET", "k", "newer", "GET")
      yield* ask("DEL", "k", "k2", "missing")
      yield* ask("EXISTS", "k", "k3", "bin", "k4")
      yield* ask("GET", "missing")
      yield* ask("INCR", "bin")
      yield* ask("GET")
      yield* ask("FOOBAR", "a", "b")
      for (let i = 0; i < 1000; i++) yield* conn.writer.write(command("INCR", "counter"))
      let last: Reply = null
      for (let i = 0; i < 1000; i++) last = yield* readReply(conn.reader)
      replies.push(last)
      yield* ask("DBSIZE")
      yield* ask("QUIT")
      replies.push(Option.isNone(yield* conn.reader.read()) ? "closed" : "still open")
      return replies
    }), { timeout: "10 seconds" })

const expected: ReadonlyArray<Reply> = [
  { simple: "PONG" },
  "hi there",
  Buffer.from("héllo, wörld").toString("latin1"),
  { simple: "OK" },
  "v",
  { simple: "OK" },
  Buffer.from(allBytes).toString("latin1"),
  { simple: "OK" },
  null,
  null,
  { simple: "OK" },
  "v4",
  "v",
  2,
  2,
  null,
  { error: "ERR value is not an integer or out of range" },
  { error: "ERR wrong number of arguments for 'get' command" },
  { error: "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' " },
  1000,
  3,
  { simple: "OK" },
  "closed"
]

/** A loopback port for redis-server, which cannot be told to choose one. */
const startRedis = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    requirePeer("redis-server", "redis-server")
    const child = yield* spawn("redis-server", [
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
      ...args
    ])
    yield* child.waitFor("stdout", /Ready to accept connections/)
    return child
  })

describe("the RESP server example with redis-cli and redis-benchmark", () => {
  it.scopedLive("redis-cli: PING, ECHO, SET, GET, DEL, binary values, and --pipe mass insertion", () =>
    Effect.gen(function*() {
      requirePeer("redis-cli", "redis-tools")
      const server = yield* Resp.makeLocal()
      const port = String(server.listeningOn)
      const cli = (args: ReadonlyArray<string>, input?: string | Uint8Array) =>
        run("redis-cli", ["-p", port, ...args], input === undefined ? {} : { input })
      const lines = yield* cli(
        [],
        "PING\nECHO \"hello world\"\nSET greeting hi\nGET greeting\nDEL greeting nothing\nGET greeting\n"
      )
      assert.strictEqual(lines.code, 0, lines.stderr)
      assert.deepStrictEqual(lines.stdout.toString().split("\n"), ["PONG", "hello world", "OK", "hi", "1", "", ""])

      const binary = Buffer.from(allBytes)
      const set = yield* cli(["-x", "SET", "bin"], binary)
      assert.strictEqual(set.stdout.toString(), "OK\n")
      const get = yield* cli(["--raw", "GET", "bin"])
      assert.strictEqual(sha(get.stdout.subarray(0, -1)), sha(binary))

      const unknown = yield* cli(["NOSUCH", "x"])
      assert.match(unknown.stdout.toString(), /ERR unknown command 'NOSUCH'/)

      const n = 20_000
      const mass = Buffer.concat(Array.from({ length: n }, (_, i) => command("SET", `key:${i}`, `value:${i}`)))
      const piped = yield* cli(["--pipe"], mass)
      assert.strictEqual(piped.code, 0, piped.stderr)
      assert.match(piped.stdout.toString(), new RegExp(`errors: 0, replies: ${n}`))
      const check = yield* cli([], `DBSIZE\nGET key:0\nGET key:${n - 1}\n`)
      assert.deepStrictEqual(check.stdout.toString().split("\n").slice(0, 3), [
        String(n + 1),
        "value:0",
        `value:${n - 1}`
      ])
    }))

  it.scopedLive("redis-cli over a Unix socket", () =>
    Effect.gen(function*() {
      requirePeer("redis-cli", "redis-tools")
      const dir = yield* tempDir
      const socketPath = path.join(dir, "resp.sock")
      yield* Resp.make(WhereToListen.onFile(socketPath))
      const r = yield* run("redis-cli", ["-s", socketPath], { input: "SET a 1\nINCR a\nGET a\n" })
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(r.stdout.toString().split("\n"), ["OK", "2", "2", ""])
    }))

  it.scopedLive("redis-cli --tls against the example served over TLS", () =>
    Effect.gen(function*() {
      requirePeer("redis-cli", "redis-tools")
      const certs = testCertificates()
      const server = yield* Server.make(
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
        Resp.handler(Resp.makeStore()),
        { onHandlerError: "ignore", tls: { certificates: [{ cert: certs.server.cert, key: certs.server.key }] } }
      )
      const r = yield* run(
        "redis-cli",
        ["--tls", "--cacert", certs.ca.certFile, "-h", "127.0.0.1", "-p", String(server.listeningOn)],
        { input: "PING\nSET over tls\nGET over\n" }
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(r.stdout.toString().split("\n"), ["PONG", "OK", "tls", ""])
    }))

  it.scopedLive("redis-benchmark: 50 clients, pipelined (-P 16) and not, every request answered", () =>
    Effect.gen(function*() {
      requirePeer("redis-benchmark", "redis-tools")
      requirePeer("redis-cli", "redis-tools")
      const server = yield* Resp.makeLocal()
      const port = String(server.listeningOn)
      for (const pipeline of [["-P", "16"], []]) {
        const bench = yield* run(
          "redis-benchmark",
          ["-h", "127.0.0.1", "-p", port, "-c", "50", "-n", "2000", "-t", "ping,set,get", ...pipeline, "-q"],
          { timeout: "100 seconds" }
        )
        const out = bench.stdout.toString()
        assert.strictEqual(bench.code, 0, `${out}\n${bench.stderr}`)
        assert.notMatch(out + bench.stderr, /error|WARNING/i)
        for (const test of ["PING_INLINE", "PING_MBULK", "SET", "GET"]) {
          assert.match(out, new RegExp(`${test}: [0-9.]+ requests per second`), out)
        }
      }
      // redis-benchmark's SET writes its 3-byte payload under key:__rand_int__ (no -r): it must be intact.
      const get = yield* run("redis-cli", ["-p", port, "--raw", "GET", "key:__rand_int__"])
      assert.match(get.stdout.toString(), /^[^\n]{3}\n$/)
      // redis-cli has exited, but the server may not have seen its FIN yet.
      let open = yield* server.numConnections
      for (let i = 0; i < 100 && open > 0; i++) {
        yield* Effect.sleep("50 millis")
        open = yield* server.numConnections
      }
      assert.strictEqual(open, 0)
    }))

  it.scopedLive("runs as a program: tsx main.ts --port 0, stopped by SIGTERM", () =>
    Effect.gen(function*() {
      requirePeer("redis-cli", "redis-tools")
      const main = fileURLToPath(new URL("../../examples/resp-server/main.ts", import.meta.url))
      const tsx = path.join(cliDir, "node_modules", ".bin", "tsx")
      const child = yield* spawn(tsx, [main, "--port", "0"])
      const port = (yield* child.waitFor("stderr", /listening on 127\.0\.0\.1 port ([0-9]+)/))[1]!
      const r = yield* run("redis-cli", ["-p", port, "PING"])
      assert.strictEqual(r.stdout.toString(), "PONG\n")
      process.kill(child.pid, "SIGTERM")
      assert.strictEqual(yield* child.exit, 0, child.stderr())
    }))
})

describe("effect-tcp clients and a real redis-server", () => {
  it.scopedLive("the same script gets the same replies from redis-server (TCP and Unix) and from the example", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const port = yield* freePort
      const socketPath = path.join(dir, "redis.sock")
      yield* startRedis(["--port", String(port), "--unixsocket", socketPath, "--dir", dir])
      const fromRedisTcp = yield* script(WhereToConnect.hostAndPort("127.0.0.1", port))
      yield* Tcp.withConnection(
        WhereToConnect.file(socketPath),
        (c) => c.writer.write(command("FLUSHALL")).pipe(Effect.zipRight(readReply(c.reader)))
      )
      const fromRedisUnix = yield* script(WhereToConnect.file(socketPath))
      assert.deepStrictEqual(fromRedisTcp, expected)
      assert.deepStrictEqual(fromRedisUnix, expected)

      const example = yield* Resp.makeLocal()
      const fromExample = yield* script(WhereToConnect.hostAndPort("127.0.0.1", example.listeningOn))
      assert.deepStrictEqual(fromExample, fromRedisTcp)
    }))
})
