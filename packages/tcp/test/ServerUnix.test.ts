import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Address from "../src/Address.js"
import { Server, Tcp, WhereToConnect, WhereToListen } from "../src/index.js"
import { eventually } from "./utils/eventually.js"
import { fdCount } from "./utils/fds.js"
import { echo } from "./utils/server.js"
import { tempDir } from "./utils/tempDir.js"

// Unix-domain socket servers, in a temporary directory of their own.

const ask = (file: string, line: string) =>
  Tcp.withConnection(WhereToConnect.file(file), (conn) =>
    Effect.gen(function*() {
      yield* conn.writer.writeLine(line)
      return yield* conn.reader.readLine
    }))

const isSocket = (file: string) => fs.lstatSync(file, { throwIfNoEntry: false })?.isSocket() === true

/**
 * Leaves a stale socket file at `file`: a child process listens on it and is killed with
 * SIGKILL, so nobody unlinks it.
 */
const staleSocketAt = (file: string) =>
  Effect.async<void, Error>((resume) => {
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(file)}, () => process.stdout.write("ready\\n"))`],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.stdout.once("data", () => child.kill("SIGKILL"))
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.once("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

describe("Server on Unix sockets", () => {
  it.scopedLive("serves on a path, typed as a string, with Unix addresses; removes the file when released", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "echo.sock")
      const remotes: Array<Address.Unix> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(
          WhereToListen.onFile(file),
          (conn) => Effect.zipRight(Effect.sync(() => remotes.push(conn.socket.remoteAddress)), echo(conn))
        )
        const listeningOn: string = server.listeningOn
        assert.strictEqual(listeningOn, file)
        assert.deepStrictEqual(server.listeningOnAddress, Address.unix(file))
        assert.isTrue(isSocket(file))
        assert.deepStrictEqual(yield* ask(file, "over unix"), Option.some("over unix"))
      }))
      assert.deepStrictEqual(remotes, [Address.unix("")])
      assert.isFalse(fs.existsSync(file), "the socket file is removed")
    }))

  it.scopedLive("close removes the socket file at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "close.sock")
      const server = yield* Server.make(WhereToListen.onFile(file), echo)
      yield* server.close()
      yield* server.closeFinished
      assert.isFalse(fs.existsSync(file))
      const error = yield* Effect.flip(ask(file, "anyone?"))
      assert.strictEqual(error._tag === "ConnectError" && error.reason, "Refused")
    }))

  it.scopedLive("a stale socket file left by a killed process is replaced", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "stale.sock")
      yield* staleSocketAt(file)
      assert.isTrue(isSocket(file), "the killed process left its socket file")
      const nobody = yield* Effect.flip(ask(file, "anyone?"))
      assert.strictEqual(nobody._tag === "ConnectError" && nobody.reason, "Refused")

      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(WhereToListen.onFile(file), echo)
        assert.strictEqual(server.listeningOn, file)
        assert.deepStrictEqual(yield* ask(file, "fresh"), Option.some("fresh"))
      }))
      assert.isFalse(fs.existsSync(file))
    }))

  it.scopedLive("a path on which a server is live is refused with AddressInUse, and the live server goes on", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "live.sock")
      const live = yield* Server.make(WhereToListen.onFile(file), echo)
      const before = fdCount()
      const error = yield* Effect.flip(Effect.scoped(Server.make(WhereToListen.onFile(file), echo)))
      assert.strictEqual(error._tag === "ListenError" && error.reason, "AddressInUse")
      // The probe that found the live server was a connection to it: wait until it is closed.
      yield* eventually(live.numConnections, (n) => n === 0, "the probe connection to close")
      assert.strictEqual(fdCount(), before)
      assert.isTrue(isSocket(file), "the live server's file is still there")
      assert.deepStrictEqual(yield* ask(file, "still here"), Option.some("still here"))
    }))

  it.scopedLive("a regular file or a directory in the way is never removed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "data.txt")
      fs.writeFileSync(file, "precious")
      const error = yield* Effect.flip(Effect.scoped(Server.make(WhereToListen.onFile(file), echo)))
      assert.strictEqual(error._tag === "ListenError" && error.reason, "AddressInUse")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "precious")

      const sub = path.join(dir, "sub")
      fs.mkdirSync(sub)
      const again = yield* Effect.flip(Effect.scoped(Server.make(WhereToListen.onFile(sub), echo)))
      assert.strictEqual(again._tag === "ListenError" && again.reason, "AddressInUse")
      assert.isTrue(fs.statSync(sub).isDirectory())
    }))

  it.scopedLive("a path in a missing directory is a ListenError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(
        Effect.scoped(Server.make(WhereToListen.onFile(path.join(dir, "missing", "x.sock")), echo))
      )
      assert.strictEqual(error._tag, "ListenError")
      assert.include(error.message, "missing")
    }))

  it.scopedLive("a path longer than the OS allows is InvalidArgument, and nothing is opened", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const before = fdCount()
      const file = path.join(dir, "é".repeat(60))
      const error = yield* Effect.flip(Effect.scoped(Server.make(WhereToListen.onFile(file), echo)))
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.strictEqual(error._tag === "InvalidArgument" && error.argument, "path")
      assert.strictEqual(fdCount(), before)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }))

  it.scopedLive("a Linux abstract socket has no file", () =>
    Effect.gen(function*() {
      const name = `\0effect-tcp-${process.pid}-${Math.random().toString(36).slice(2)}`
      const server = yield* Server.make(WhereToListen.onFile(name), echo)
      assert.strictEqual(server.listeningOn, name)
      assert.deepStrictEqual(yield* ask(name, "abstract"), Option.some("abstract"))
      const error = yield* Effect.flip(Effect.scoped(Server.make(WhereToListen.onFile(name), echo)))
      assert.strictEqual(error._tag === "ListenError" && error.reason, "AddressInUse")
    }))

  it.scopedLive("maxConnections holds Unix clients too", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "limited.sock")
      const server = yield* Server.make(WhereToListen.onFile(file), (conn) =>
        Effect.zipRight(Effect.sleep(20), echo(conn)), { maxConnections: 1 })
      const replies = yield* Effect.forEach([0, 1, 2, 3], (i) =>
        ask(file, `u${i}`), { concurrency: "unbounded" })
      assert.deepStrictEqual(
        replies,
        [0, 1, 2, 3].map((i) =>
          Option.some(`u${i}`)
        )
      )
      assert.strictEqual(yield* server.numWaiting, 0)
    }))
})
