// The command line itself: help with examples for every command, one-line errors with
// documented exit statuses, and the demo.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import * as path from "node:path"
import { cliDir, etcp, run } from "./support.js"

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "")

describe("etcp", () => {
  it.live("--help for every command shows its usage and examples", () =>
    Effect.gen(function*() {
      const commands = [[], ["connect"], ["listen"], ["send"], ["receive"], ["bench"]]
      const results = yield* Effect.all(
        commands.map((c) => etcp([...c, "--help"]).pipe(Effect.map((r) => ({ c, r })))),
        { concurrency: 3 }
      )
      for (const { c, r } of results) {
        const text = stripAnsi(r.stdout.toString())
        assert.strictEqual(r.code, 0, `${c.join(" ")} --help: ${r.stderr}`)
        assert.include(text, "Examples:", c.join(" "))
        assert.include(text, `etcp ${c[0] ?? "listen"}`, c.join(" "))
      }
      const top = stripAnsi(results[0]!.r.stdout.toString())
      for (const c of ["connect", "listen", "send", "receive", "bench"]) assert.include(top, c)
      assert.include(top, "Exit status")
    }))

  it.live("cannot listen: exit status 8 and one line", () =>
    Effect.gen(function*() {
      const busy = net.createServer()
      const port = yield* Effect.async<number>((resume) => {
        busy.listen(0, "127.0.0.1", () => resume(Effect.succeed((busy.address() as net.AddressInfo).port)))
      })
      const result = yield* etcp(["listen", "--host", "127.0.0.1", "--port", String(port)]).pipe(
        Effect.ensuring(Effect.sync(() => busy.close()))
      )
      assert.strictEqual(result.code, 8)
      assert.match(result.stderr, /^etcp: listen on 127\.0\.0\.1:[0-9]+ failed: AddressInUse[^\n]*\n$/)
    }))

  it.live("an unknown command is a usage error (exit status 2)", () =>
    Effect.gen(function*() {
      const result = yield* etcp(["frobnicate"])
      assert.strictEqual(result.code, 2)
      assert.notMatch(result.stderr + result.stdout.toString(), /\n\s+at /)
    }))

  it.live("the demo runs, prints its transcript and exits 0", () =>
    Effect.gen(function*() {
      const tsx = path.join(cliDir, "node_modules", ".bin", "tsx")
      const result = yield* run(tsx, [path.join(cliDir, "src", "demo.ts")], { timeout: "100 seconds" })
      const out = result.stdout.toString()
      assert.strictEqual(result.code, 0, `${out}\n${result.stderr}`)
      assert.match(out, /echo server on 127\.0\.0\.1 port [0-9]+/)
      assert.match(out, /unix +sent "héllo, wörld", got back "héllo, wörld"/)
      assert.match(
        out,
        /bulk +sent 64\.0 MiB and got 64\.0 MiB back in [0-9.]+ s: [0-9.]+ [KMG]iB\/s each way, every byte intact/
      )
      assert.match(out, /client C connected and waits: 2 running, 1 waiting/)
      assert.match(out, /client C got "client C here" after waiting [0-9]+ ms/)
      assert.match(out, /closed: 0 \+ 0 connections open, socket file removed/)
      assert.match(out, /demo finished\n$/)
    }))
})
