/**
 * Runs every example as its own process (`node --import tsx`), bounded in time, and checks
 * that it ends by itself with exit code 0 and prints what it should.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as cp from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `src/<name>.ts`; kills it (by its PID) if it is still running after `within` ms. */
const runExample = (name: string, within = 90_000): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = cp.spawn(process.execPath, ["--import", "tsx", path.join("src", `${name}.ts`)], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data) => (stdout += String(data)))
    child.stderr.on("data", (data) => (stderr += String(data)))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, within)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, signal, stdout, stderr }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    })
  })

const expectClean = (name: string, run: Run) => {
  assert.strictEqual(run.signal, null, `${name} was killed (did not end in time)\n${run.stdout}\n${run.stderr}`)
  assert.strictEqual(run.code, 0, `${name} exited with ${run.code}\n${run.stdout}\n${run.stderr}`)
}

const expectLines = (run: Run, lines: ReadonlyArray<string | RegExp>) => {
  const output = run.stdout.split("\n")
  for (const line of lines) {
    assert.isTrue(
      output.some((l) => typeof line === "string" ? l === line : line.test(l)),
      `missing ${String(line)} in\n${run.stdout}\n${run.stderr}`
    )
  }
}

describe("examples", () => {
  it.live(
    "cores: one server on two node:cluster workers, round-robin, counts summed, group released",
    () =>
      Effect.gen(function*() {
        const run = yield* runExample("cores")
        expectClean("cores", run)
        expectLines(run, [
          /^2 workers listening on 127\.0\.0\.1:\d+$/,
          "4 requests served by 2 workers",
          "connections opened, summed over the workers: 4",
          "cores: done"
        ])
      }),
    120_000
  )

  it.live(
    "cluster: @effect/cluster runners in three processes over effect-tcp, a throwaway PostgreSQL as their storage",
    () =>
      Effect.gen(function*() {
        const run = yield* runExample("cluster", 170_000)
        expectClean("cluster", run)
        expectLines(run, [
          /^runner storage: (a throwaway PostgreSQL|DATABASE_URL)$/,
          /^3 runners listening on 127\.0\.0\.1:\d+, \d+, \d+$/,
          /^12 counters incremented from the runner on \d+, served by 3 runners$/,
          /^read back from the runner on \d+: 12 counters, answered by 3 runners, after \d+ round\(s\) of increments$/,
          "cluster: done"
        ])
      }),
    180_000
  )

  it.live("echo: an echo server as a Layer", () =>
    Effect.gen(function*() {
      const run = yield* runExample("echo")
      expectClean("echo", run)
      expectLines(run, [
        /^echo server listening on 127\.0\.0\.1:\d+$/,
        `sent "hello", got back "hello"`,
        `sent "effect-tcp", got back "effect-tcp"`,
        `sent "goodbye", got back "goodbye"`,
        "echo: done"
      ])
    }))

  it.live("chat: a line chat", () =>
    Effect.gen(function*() {
      const run = yield* runExample("chat")
      expectClean("chat", run)
      expectLines(run, [
        "[alice] * welcome, alice",
        "[bob] * welcome, bob",
        "[alice] * bob joined",
        "[bob] <alice> hi bob",
        "[alice] <bob> hello alice, bye now",
        "[bob] (disconnected)",
        "[alice] * bob left",
        "[alice] (disconnected)",
        "chat: done"
      ])
    }))

  it.live("rpc: an RPC service over effect-tcp", () =>
    Effect.gen(function*() {
      const run = yield* runExample("rpc")
      expectClean("rpc", run)
      expectLines(run, [
        /^rpc server listening on 127\.0\.0\.1:\d+$/,
        "Get library -> effect-tcp",
        "Get nothing -> KeyNotFound(nothing)",
        "entry language = TypeScript",
        "entry library = effect-tcp",
        "rpc: done"
      ])
    }))

  it.live("reconnect: a reconnecting client", () =>
    Effect.gen(function*() {
      const run = yield* runExample("reconnect")
      expectClean("reconnect", run)
      expectLines(run, [
        /^client connection #1 from port \d+$/,
        /^client connection #2 from port \d+$/,
        /^client connection #3 from port \d+$/,
        "server connection 1 answers request 1",
        "server connection 1 answers request 2",
        "server connection 2 answers request 3",
        "server connection 3 answers request 6",
        "reconnect: done after 3 connections"
      ])
    }))

  it.live("messages: a length-prefixed Schema message protocol", () =>
    Effect.gen(function*() {
      const run = yield* runExample("messages")
      expectClean("messages", run)
      expectLines(run, [
        /^key-value server listening on 127\.0\.0\.1:\d+$/,
        "Put language=effect -> Ok",
        "Get language -> Value effect",
        "Get missing -> Value <none>",
        "Delete -> Error: frame 3: bad request",
        "Get language again -> Value effect",
        "messages: done"
      ])
    }))

  it.live("proxy: a TCP proxy with Copy.bidirectional, a half-close passed through", () =>
    Effect.gen(function*() {
      const run = yield* runExample("proxy")
      expectClean("proxy", run)
      expectLines(run, [
        "client got: HELLO",
        "client got: THROUGH",
        "client got: THE PROXY",
        "client got: upstream saw 3 lines, then your end of stream",
        "proxy: 24 bytes to upstream, 70 bytes back",
        "proxy: done"
      ])
    }))
})
