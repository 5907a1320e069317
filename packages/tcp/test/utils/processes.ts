/**
 * Real processes for the multi-process tests: a fixture program (bundled once with esbuild, so
 * that a process starts in a fraction of a second instead of seconds under tsx), its JSON-line
 * reports on stdout, commands on stdin, and a finalizer that ends it (and every pid it reported)
 * by PID.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as esbuild from "esbuild"
import * as cp from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..")

export type Report = Readonly<Record<string, any>> & { readonly t: string }

export interface Fixture {
  readonly proc: cp.ChildProcess
  readonly pid: number
  /** The next report of kind `t` (earlier reports of other kinds stay queued); dies after `timeoutMs`. */
  readonly next: (t: string, timeoutMs?: number) => Effect.Effect<Report>
  readonly command: (line: string) => Effect.Effect<void>
  /** Resolves with the exit code and signal. */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: string | null }>
  /** Everything written to stderr so far (for failure messages). */
  readonly stderr: () => string
  /** Pids to kill too when the fixture is released (its workers). */
  readonly adopt: (pid: number) => void
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const kill = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // gone
  }
}

/**
 * Bundles `test/fixtures/<name>.ts` (and what it imports) into one CommonJS file in a temporary
 * directory, removed when the scope closes.
 */
export const bundle = (name: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcp-fixture-"))
      const outfile = path.join(dir, `${name}.cjs`)
      await esbuild.build({
        entryPoints: [path.join(packageDir, "test", "fixtures", `${name}.ts`)],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        outfile,
        logLevel: "error"
      })
      return outfile
    }),
    (outfile) => Effect.sync(() => fs.rmSync(path.dirname(outfile), { recursive: true, force: true }))
  )

/** Runs a bundled fixture (see `bundle`); ends it (and the pids it adopted) with SIGKILL on release. */
export const fixture = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Fixture, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const name = path.basename(script)
      const proc = cp.spawn(process.execPath, [script, ...args], {
        cwd: packageDir,
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      const reports: Array<Report> = []
      const waiters = new Set<() => void>()
      const adopted = new Set<number>()
      let stderr = ""
      let buffer = ""
      let exit: { code: number | null; signal: string | null } | undefined
      const wake = () => {
        for (const w of waiters) w()
      }
      proc.stdout!.setEncoding("utf8")
      proc.stdout!.on("data", (data: string) => {
        buffer += data
        let nl: number
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          if (line.startsWith("{")) reports.push(JSON.parse(line) as Report)
          else stderr += `[stdout] ${line}\n`
        }
        wake()
      })
      proc.stderr!.setEncoding("utf8")
      proc.stderr!.on("data", (data: string) => {
        stderr = (stderr + data).slice(-20_000)
      })
      proc.stdin!.on("error", () => {})
      proc.on("exit", (code, signal) => {
        exit = { code, signal }
        wake()
      })
      const next = (t: string, timeoutMs = 30_000): Effect.Effect<Report> =>
        Effect.async<Report>((resume) => {
          const check = () => {
            const i = reports.findIndex((r) => r.t === t)
            if (i >= 0) {
              done()
              resume(Effect.succeed(reports.splice(i, 1)[0]!))
            } else if (exit !== undefined) {
              done()
              resume(
                Effect.die(
                  new Error(
                    `${name} exited (${JSON.stringify(exit)}) before "${t}"\n${JSON.stringify(reports)}\n${stderr}`
                  )
                )
              )
            }
          }
          const timer = setTimeout(() => {
            done()
            resume(
              Effect.die(new Error(`${name}: no "${t}" within ${timeoutMs} ms\n${JSON.stringify(reports)}\n${stderr}`))
            )
          }, timeoutMs)
          const done = () => {
            clearTimeout(timer)
            waiters.delete(check)
          }
          waiters.add(check)
          check()
          return Effect.sync(done)
        })
      const exited = Effect.async<{ code: number | null; signal: string | null }>((resume) => {
        if (exit !== undefined) return resume(Effect.succeed(exit))
        proc.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
      })
      return {
        proc,
        pid: proc.pid!,
        next,
        command: (line: string) => Effect.sync(() => void proc.stdin!.write(line + "\n")),
        exited,
        stderr: () => stderr,
        adopt: (pid: number) => void adopted.add(pid),
        adopted
      }
    }),
    (f) =>
      Effect.gen(function*() {
        kill(f.pid)
        for (const pid of f.adopted) kill(pid)
        yield* f.exited.pipe(Effect.timeout("5 seconds"), Effect.ignore)
      })
  )

/** Sends `line` on a new connection and returns the reply line (raw node:net, no effect-tcp). */
export const askOnce = (where: number | string, line: string, timeoutMs = 10_000): Effect.Effect<string, Error> =>
  Effect.async<string, Error>((resume) => {
    const socket = typeof where === "number" ? net.connect(where, "127.0.0.1") : net.connect(where)
    let data = ""
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs)
    const finish = (result: string | Error) => {
      clearTimeout(timer)
      socket.destroy()
      resume(typeof result === "string" ? Effect.succeed(result) : Effect.fail(result))
    }
    socket.setEncoding("utf8")
    socket.on("connect", () => socket.write(line + "\n"))
    socket.on("data", (chunk: string) => {
      data += chunk
      const nl = data.indexOf("\n")
      if (nl >= 0) finish(data.slice(0, nl))
    })
    socket.on("error", (error) => finish(error))
    socket.on("close", () => finish(new Error("closed before a reply")))
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** A connection kept open: ask a line at a time, then close it. */
export interface Held {
  readonly ask: (line: string) => Effect.Effect<string, Error>
  readonly close: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
}

export const hold = (where: number | string): Effect.Effect<Held, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Held, Error>((resume) => {
      const socket = typeof where === "number" ? net.connect(where, "127.0.0.1") : net.connect(where)
      socket.setEncoding("utf8")
      let data = ""
      let waiter: ((line: string | Error) => void) | undefined
      let ended = false
      const closedWaiters: Array<() => void> = []
      socket.on("data", (chunk: string) => {
        data += chunk
        const nl = data.indexOf("\n")
        if (nl >= 0 && waiter !== undefined) {
          const line = data.slice(0, nl)
          data = data.slice(nl + 1)
          const w = waiter
          waiter = undefined
          w(line)
        }
      })
      socket.on("error", () => {})
      socket.on("close", () => {
        ended = true
        waiter?.(new Error("closed"))
        for (const w of closedWaiters.splice(0)) w()
      })
      socket.once("error", (error) => resume(Effect.fail(error)))
      socket.once("connect", () =>
        resume(Effect.succeed({
          ask: (line) =>
            Effect.async<string, Error>((r) => {
              if (ended) return r(Effect.fail(new Error("closed")))
              waiter = (result) => r(typeof result === "string" ? Effect.succeed(result) : Effect.fail(result))
              socket.write(line + "\n")
            }),
          close: Effect.sync(() => void socket.end()),
          closed: Effect.async<void>((r) => {
            if (ended) return r(Effect.void)
            closedWaiters.push(() => r(Effect.void))
          }),
          socket
        } as Held)))
    }),
    (held) => Effect.sync(() => (held as unknown as { socket: net.Socket }).socket.destroy())
  )

/** Whether a connect to `where` is refused (nobody listens). */
export const refused = (where: number | string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = typeof where === "number" ? net.connect(where, "127.0.0.1") : net.connect(where)
    socket.on("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.on("error", (error: NodeJS.ErrnoException) => {
      socket.destroy()
      resume(Effect.succeed(error.code === "ECONNREFUSED" || error.code === "ENOENT"))
    })
  })

export const fileExists = (p: string) => fs.existsSync(p)
