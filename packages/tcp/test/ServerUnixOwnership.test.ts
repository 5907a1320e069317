import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { Server, Tcp, WhereToConnect, WhereToListen } from "../src/index.js"
import { tempDir } from "./utils/tempDir.js"

// A Unix-socket server removes its socket file on close only while the file is still its own.

const ask = (file: string, line: string) =>
  Tcp.withConnection(WhereToConnect.file(file), (conn) =>
    Effect.gen(function*() {
      yield* conn.writer.writeLine(line)
      return yield* conn.reader.readLine
    }))

const answer = (name: string) => (conn: Parameters<Parameters<typeof Server.make>[1]>[0]) =>
  Effect.zipRight(conn.reader.readLine, conn.writer.writeLine(name))

describe("Unix socket file ownership", () => {
  it.scopedLive("a rolling restart: A listens on P, B replaces P, A closes, B is still reachable", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "service.sock")
      const a = yield* Server.make(WhereToListen.onFile(file), answer("A"))
      assert.deepStrictEqual(yield* ask(file, "?"), Option.some("A"))
      // The new instance removes the path and binds it, as deploy tools do.
      fs.unlinkSync(file)
      const b = yield* Server.make(WhereToListen.onFile(file), answer("B"))
      assert.deepStrictEqual(yield* ask(file, "?"), Option.some("B"))
      yield* a.close()
      yield* a.closeFinishedAndHandlersDetermined
      assert.isTrue(fs.lstatSync(file).isSocket(), "B's socket file is still there")
      assert.deepStrictEqual(yield* ask(file, "?"), Option.some("B"))
      yield* b.close()
      assert.isFalse(fs.existsSync(file), "B removes its own file")
      // No temporary names are left behind.
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }))

  it.scopedLive("a file that replaced ours (not a socket) is not removed on close", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "s.sock")
      const server = yield* Server.make(WhereToListen.onFile(file), answer("A"))
      fs.unlinkSync(file)
      fs.writeFileSync(file, "not a socket")
      yield* server.close()
      assert.strictEqual(fs.readFileSync(file, "utf8"), "not a socket")
    }))

  it.scopedLive("a path at the length limit still binds (no room for a temporary name beside it)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "x".repeat(Math.max(1, 107 - Buffer.byteLength(dir) - 1)))
      assert.strictEqual(Buffer.byteLength(file), 107)
      const server = yield* Server.make(WhereToListen.onFile(file), answer("long"))
      assert.deepStrictEqual(yield* ask(file, "?"), Option.some("long"))
      yield* server.close()
      yield* server.closeFinishedAndHandlersDetermined
    }))
})
