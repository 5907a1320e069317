/**
 * A throwaway PostgreSQL for the `cluster` example: the server binaries of Debian's or Ubuntu's
 * `postgresql` package, a fresh data directory in a temporary directory, a Unix socket only (no
 * TCP port), stopped by its PID and removed when the scope closes. As root it runs as the
 * `postgres` user (the server refuses root).
 */
import { Effect, type Scope } from "effect"
import * as cp from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Where to reach the server: `host` is the directory of its Unix socket. */
export interface Postgres {
  readonly host: string
  readonly port: number
}

const binDir = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!fs.existsSync(root)) return undefined
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres")))
  versions.sort((a, b) => Number(b) - Number(a))
  return versions.length === 0 ? undefined : path.join(root, versions[0]!, "bin")
}

const asPostgres = (command: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  process.getuid?.() === 0
    ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", command, ...args]]
    : [command, [...args]]

export const throwawayPostgres: Effect.Effect<Postgres, Error, Scope.Scope> = Effect.gen(function*() {
  const bin = binDir()
  if (bin === undefined) {
    return yield* Effect.fail(
      new Error(
        "PostgreSQL's server binaries are not installed (apt-get install postgresql), " +
          "and DATABASE_URL is not set"
      )
    )
  }
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "etcp-cluster-pg-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const data = path.join(dir, "data")
  fs.mkdirSync(data, { mode: 0o700 })
  if (process.getuid?.() === 0) cp.execFileSync("chown", ["-R", "postgres:postgres", dir])
  const [initdb, initArgs] = asPostgres(path.join(bin, "initdb"), [
    ...["-D", data, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
  ])
  yield* Effect.try({
    try: () => cp.execFileSync(initdb, initArgs, { stdio: ["ignore", "ignore", "pipe"] }),
    catch: (error) => new Error(`initdb failed: ${String((error as { stderr?: unknown }).stderr ?? error)}`)
  })
  const port = 5432
  const [server, serverArgs] = asPostgres(path.join(bin, "postgres"), [
    ...["-D", data, "-k", dir, "-p", String(port), "-c", "listen_addresses="],
    ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
  ])
  const proc = yield* Effect.acquireRelease(
    Effect.sync(() => cp.spawn(server, serverArgs, { stdio: ["ignore", "ignore", "pipe"] })),
    (proc) =>
      Effect.async<void>((resume) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resume(Effect.void)
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000)
        proc.once("exit", () => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        // PostgreSQL's fast shutdown: roll back open transactions, disconnect the clients, stop.
        proc.kill("SIGINT")
      })
  )
  let log = ""
  yield* Effect.async<void, Error>((resume) => {
    const timer = setTimeout(() => done(new Error(`PostgreSQL did not start within 30 s:\n${log}`)), 30_000)
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes("ready to accept connections")) done()
    }
    const onExit = () => done(new Error(`PostgreSQL exited:\n${log}`))
    const done = (error?: Error) => {
      clearTimeout(timer)
      proc.stderr!.off("data", onData)
      proc.off("exit", onExit)
      proc.stderr!.resume()
      resume(error === undefined ? Effect.void : Effect.fail(error))
    }
    proc.stderr!.on("data", onData)
    proc.once("exit", onExit)
  })
  return { host: dir, port }
})
