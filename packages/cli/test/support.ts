// Test support: child processes bounded in time and killed (by PID) when their scope closes,
// the etcp command, peers that must be installed, and small socket helpers.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn as nodeSpawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const etcpBin = fileURLToPath(new URL("../bin/etcp.js", import.meta.url))
export const cliDir = fileURLToPath(new URL("..", import.meta.url))

export interface Child {
  readonly pid: number
  readonly stdout: () => Buffer
  readonly stderr: () => string
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  readonly end: Effect.Effect<void>
  /** Exit status (128 + signal number when killed by a signal). */
  readonly exit: Effect.Effect<number>
  /** Waits until `stream` matches `pattern` (bounded). */
  readonly waitFor: (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<RegExpMatchArray>
}

const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 }

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

/**
 * Starts a process for the life of the scope: on release it is killed by its PID if still
 * running (SIGTERM, then SIGKILL after 2 s). `timeout` bounds its whole life (SIGKILL).
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly cwd?: string
    readonly env?: Record<string, string>
    readonly stdin?: "pipe" | "ignore" | number
    readonly timeout?: Duration.DurationInput
  } = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = nodeSpawn(command, args, {
        cwd: options.cwd ?? cliDir,
        env: { ...process.env, ...options.env },
        stdio: [options.stdin ?? "pipe", "pipe", "pipe"]
      })
      const out: Array<Buffer> = []
      let err = ""
      child.stdout!.on("data", (b: Buffer) => out.push(b))
      child.stderr!.on("data", (b: Buffer) => {
        err += b.toString("utf8")
      })
      child.stdin?.on("error", () => {})
      const exited = new Promise<number>((resolve) => {
        child.on("close", (code, signal) => resolve(code ?? 128 + (signal ? signals[signal] ?? 0 : 0)))
        child.on("error", () => resolve(127))
      })
      const deadline = setTimeout(() => {
        if (alive(child)) child.kill("SIGKILL")
      }, Duration.toMillis(Duration.decode(options.timeout ?? "90 seconds")))
      deadline.unref()
      void exited.then(() => clearTimeout(deadline))
      const stdout = () => Buffer.concat(out)
      const waitFor = (stream: "stdout" | "stderr", pattern: RegExp, timeout: Duration.DurationInput = "30 seconds") =>
        Effect.gen(function*() {
          const text = () => stream === "stdout" ? stdout().toString("utf8") : err
          const match = yield* Effect.suspend(() => {
            const m = pattern.exec(text())
            return m === null
              ? alive(child)
                ? Effect.fail("not yet" as const)
                : Effect.die(new Error(`${command} exited before printing ${pattern}; stderr: ${err}`))
              : Effect.succeed(m)
          }).pipe(
            Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("20 millis") }),
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => new Error(`${command} did not print ${pattern} in time; ${stream}: ${text()}`)
            }),
            Effect.orDie
          )
          return match
        })
      const c: Child & { readonly process: ChildProcess } = {
        process: child,
        pid: child.pid ?? -1,
        stdout,
        stderr: () => err,
        write: (data) =>
          Effect.async<void>((resume) => {
            child.stdin!.write(data, () => resume(Effect.void))
          }),
        end: Effect.async<void>((resume) => {
          child.stdin!.end(() => resume(Effect.void))
        }),
        exit: Effect.promise(() => exited),
        waitFor
      }
      return c
    }),
    (c) =>
      Effect.promise(async () => {
        const child = (c as Child & { readonly process: ChildProcess }).process
        if (!alive(child)) return
        child.kill("SIGTERM")
        const done = await Promise.race([
          c.exit.pipe(Effect.runPromise).then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000))
        ])
        if (!done && alive(child)) child.kill("SIGKILL")
      })
  )

export interface Ran {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs a process to completion (bounded by `timeout`, default 60 s) with `input` on its standard input. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly input?: string | Uint8Array
    readonly cwd?: string
    readonly env?: Record<string, string>
    readonly timeout?: Duration.DurationInput
  } = {}
): Effect.Effect<Ran> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawn(command, args, {
      ...options,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : { timeout: "60 seconds" })
    })
    if (options.input !== undefined) yield* child.write(options.input)
    yield* child.end
    const code = yield* child.exit
    return { code, stdout: child.stdout(), stderr: child.stderr() }
  }))

/** `etcp ARGS…` as a child process. */
export const etcp = (args: ReadonlyArray<string>, options: Parameters<typeof run>[2] = {}) =>
  run(process.execPath, [etcpBin, ...args], options)

/** `etcp ARGS…` in the background, for the life of the scope. */
export const etcpBackground = (args: ReadonlyArray<string>, options: Parameters<typeof spawn>[2] = {}) =>
  spawn(process.execPath, [etcpBin, ...args], options)

/** The port an `etcp listen`/`receive` child printed. */
export const listeningPort = (child: Child) =>
  child.waitFor("stderr", /listening on port ([0-9]+)/).pipe(Effect.map((m) => Number(m[1])))

/**
 * Fails the test (never skips) when a peer program is missing: CI installs them (see the
 * package README for the Debian packages).
 */
export const requirePeer = (command: string, debianPackage: string): void => {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" })
  } catch {
    throw new Error(`${command} is not installed: apt-get install ${debianPackage}`)
  }
}

/** A fresh temporary directory, removed with the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "etcp-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A loopback port that was free a moment ago (for peers that need a port number up front). */
export const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Polls `check` every 20 ms until it holds (bounded). */
export const eventually = (check: () => boolean, timeout: Duration.DurationInput = "30 seconds", what = "condition") =>
  Effect.suspend(() => check() ? Effect.void : Effect.fail("not yet" as const)).pipe(
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.orDie
  )

/** Waits until a TCP port or Unix path accepts connections (bounded). */
export const waitForListener = (
  target: { port: number } | { path: string },
  timeout: Duration.DurationInput = "30 seconds"
) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect("port" in target ? { port: target.port, host: "127.0.0.1" } : { path: target.path })
    socket.on("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.on("error", () => resume(Effect.succeed(false)))
  }).pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("50 millis") }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`nothing listening on ${JSON.stringify(target)}`)
    }),
    Effect.orDie
  )

export const sha256 = (data: Uint8Array): string => crypto.createHash("sha256").update(data).digest("hex")

/** Deterministic pseudo-random bytes. */
export const randomBytes = (n: number, seed = 1): Buffer => {
  const out = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
