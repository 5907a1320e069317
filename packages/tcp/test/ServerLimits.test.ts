/**
 * A server is never quietly shrunk, and slow peers are bounded (SPEC §11): the descriptor limit
 * lowers `maxConnections` to a sane floor (not to 1 because of the kernel backlog), the default
 * backlog is Node's 511, a burst of connects is served, and `readTimeout` bounds a whole read
 * where `idleTimeout` (reset by every byte) does not.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as cp from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { Server } from "../src/index.js"
import type { ReadError } from "../src/TcpError.js"
import { makeReader } from "./utils/reader.js"
import { ask, localhost } from "./utils/server.js"

/** The backlog the kernel reports for a listening port (`ss`: Send-Q of a listener). */
const listenBacklog = (port: number): number => {
  const out = cp.execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" })
  const fields = out.trim().split(/\s+/)
  return Number(fields[2])
}

/**
 * Connects `n` clients at once; each sends a line (as HTTP clients do: a data segment also
 * completes a handshake whose last ACK the kernel dropped) and expects one back. Resolves with
 * how many got it.
 */
const burst = (port: number, n: number, within: number): Promise<number> =>
  new Promise((resolve) => {
    let served = 0
    let settled = 0
    const sockets: Array<net.Socket> = []
    const done = () => {
      if (++settled === n) finish()
    }
    const timer = setTimeout(() => finish(), within)
    const finish = () => {
      clearTimeout(timer)
      for (const socket of sockets) socket.destroy()
      resolve(served)
    }
    for (let i = 0; i < n; i++) {
      const socket = net.connect(port, "127.0.0.1")
      sockets.push(socket)
      let got = ""
      socket.on("error", done)
      socket.write("x\n")
      socket.on("data", (data) => {
        got += data.toString()
        if (got === "hi\n") {
          served++
          socket.destroy()
          done()
        }
      })
    }
  })

describe("Server limits", () => {
  it.scopedLive("the default backlog is Node's 511 (Async's 64 overflows under a connect burst)", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, (conn) => conn.writer.writeLine("hi"))
      assert.strictEqual(listenBacklog(server.listeningOn), 511)
      const explicit = yield* Server.make(localhost, (conn) => conn.writer.writeLine("hi"), { backlog: 100 })
      assert.strictEqual(listenBacklog(explicit.listeningOn), 100)
    }))

  it.scopedLive("a burst of 2,000 connects with the default options is fully served", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(localhost, (conn) =>
        Effect.zipRight(conn.reader.readLine, conn.writer.writeLine("hi")))
      const served = yield* Effect.promise(() =>
        burst(server.listeningOn, 2_000, 60_000)
      )
      assert.strictEqual(served, 2_000)
    }), 90_000)

  it.live(
    "under ulimit -n 1024, backlog 1024 no longer leaves one handler: the limits are lowered to what fits, logged and readable",
    () =>
      Effect.promise(async () => {
        const script = path.join("test", "fixtures", "limitsServer.ts")
        const child = cp.spawn(
          "bash",
          ["-c", `ulimit -n 1024 && exec "${process.execPath}" --import tsx ${script} 20`],
          {
            cwd: path.resolve(__dirname, ".."),
            stdio: ["ignore", "pipe", "pipe"]
          }
        )
        try {
          let out = ""
          child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
          child.stderr!.on("data", (d: Buffer) => (out += d.toString()))
          const deadline = Date.now() + 20_000
          while (!/limits \d+ \d+ \d+/.test(out) && Date.now() < deadline && child.exitCode === null) {
            await new Promise((r) => setTimeout(r, 20))
          }
          const match = /limits (\d+) (\d+) (\d+)/.exec(out)
          assert.isNotNull(match, `the server did not start: ${out}`)
          const [maxConnections, maxWaiting, port] = match!.slice(1).map(Number)
          assert.deepStrictEqual([maxConnections, maxWaiting], [840, 120])
          assert.match(out, /descriptor limit \(1024\) lowers maxConnections from 10000 to 840/)
          // 20 clients holding their connection are served at once, not one after another.
          const answers = await Promise.all(Array.from({ length: 20 }, () =>
            new Promise<string>((resolve) => {
              const socket = net.connect(port!, "127.0.0.1")
              let got = ""
              socket.on("error", () => resolve("error"))
              socket.on("data", (d) => {
                got += d.toString()
                if (got.endsWith("\n")) {
                  socket.destroy()
                  resolve(got.trim())
                }
              })
            })))
          assert.deepStrictEqual(answers, Array.from({ length: 20 }, () => "together"))
        } finally {
          child.kill("SIGKILL")
        }
      }),
    60_000
  )

  describe("readTimeout: a bound on a whole read", () => {
    it.live("a read that gets no answer in time fails Timeout and consumes nothing", () =>
      Effect.gen(function*() {
        const reader = makeReader({ bufferSize: 1024, readTimeout: 50 })
        reader.push(Buffer.from("abc"))
        const error = yield* Effect.flip(reader.readExactly(10))
        assert.strictEqual(error._tag === "ReadError" && error.reason, "Timeout")
        assert.strictEqual(yield* reader.bytesBuffered, 3)
        // The reader is free and usable; a read that answers in time is unaffected.
        const next = yield* Effect.fork(reader.readExactly(4))
        yield* Effect.sleep("20 millis")
        reader.push(Buffer.from("d"))
        assert.strictEqual(Buffer.from(yield* Fiber.join(next)).toString(), "abcd")
        // Each read has its own deadline: the last one's timer is gone.
        const later = yield* Effect.fork(reader.readLine)
        yield* Effect.sleep("40 millis")
        reader.push(Buffer.from("e\n"))
        assert.deepStrictEqual(yield* Fiber.join(later), Option.some("e"))
      }))

    it.scopedLive("one byte every 50 ms cannot hold a line read past readTimeout, though it keeps idleTimeout at bay", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const line = yield* Effect.either(conn.reader.readLine)
            const timedOut = line._tag === "Left" && (line.left as ReadError).reason === "Timeout"
            yield* conn.writer.writeLine(timedOut ? "408" : "200")
          }), { readTimeout: "400 millis", idleTimeout: "10 seconds" })
        const answer = yield* Effect.promise(() =>
          new Promise<string>((resolve) => {
            const socket = net.connect(server.listeningOn, "127.0.0.1")
            const drip = setInterval(() => socket.write("x"), 50)
            const giveUp = setTimeout(() => finish("no answer within 5 s"), 5_000)
            const finish = (answer: string) => {
              clearInterval(drip)
              clearTimeout(giveUp)
              socket.destroy()
              resolve(answer)
            }
            socket.on("error", () => finish("error"))
            let got = ""
            socket.on("data", (d) => {
              got += d.toString()
              if (got.endsWith("\n")) finish(got.trim())
            })
          })
        )
        assert.strictEqual(answer, "408")
        // A well-behaved client is served.
        assert.deepStrictEqual(yield* ask(server.listeningOn, "hello"), Option.some("200"))
      }))

    it.scopedLive("readTimeout is validated", () =>
      Effect.gen(function*() {
        for (const value of [-1, NaN, "soon", {}]) {
          const error = yield* Effect.flip(Server.make(localhost, () => Effect.void, { readTimeout: value as never }))
          assert.strictEqual(error._tag, "InvalidArgument")
        }
      }))
  })
})
