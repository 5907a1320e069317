/**
 * TLS peers for the tests, as scoped resources: a `node:tls` server whose sockets the test
 * drives by hand, and child processes nobody here wrote (`openssl s_server`, `openssl s_client`,
 * `socat`, `redis-server`), started on loopback or a Unix socket and stopped by PID.
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as cp from "node:child_process"
import * as net from "node:net"
import * as tls from "node:tls"

const noop = () => {}

export interface TlsPeerServer {
  readonly port: number
  /** Sockets whose handshake completed, in arrival order. */
  readonly secure: Queue.Queue<tls.TLSSocket>
  /** Failed handshakes (`tlsClientError`), in order. */
  readonly failures: Queue.Queue<Error>
}

/** A `node:tls` server on 127.0.0.1 (or `host`, or the Unix `path`); closing the scope destroys everything. */
export const tlsPeerServer = (
  options: tls.TlsOptions & {
    readonly host?: string
    readonly path?: string
    readonly allowHalfOpen?: boolean | undefined
  }
): Effect.Effect<TlsPeerServer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const secure = yield* Queue.unbounded<tls.TLSSocket>()
    const failures = yield* Queue.unbounded<Error>()
    const sockets = new Set<net.Socket>()
    const { host, path, ...tlsOptions } = options
    // Not half-open by default: a client that gave up on the handshake (it refused our
    // certificate) sends FIN, and a half-open server end would stay open for ever.
    const server = tls.createServer({ allowHalfOpen: false, ...tlsOptions })
    server.on("connection", (socket: net.Socket) => {
      socket.on("error", noop)
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    server.on("secureConnection", (socket) => {
      socket.on("error", noop)
      Queue.unsafeOffer(secure, socket)
    })
    server.on("tlsClientError", (error, socket) => {
      socket.destroy()
      Queue.unsafeOffer(failures, error)
    })
    yield* Effect.acquireRelease(
      Effect.async<void, Error>((resume) => {
        server.once("error", (error) => resume(Effect.fail(error)))
        const listening = () => resume(Effect.void)
        if (path !== undefined) server.listen({ path }, listening)
        else server.listen({ host: host ?? "127.0.0.1", port: 0 }, listening)
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address()
    return { port: typeof address === "object" && address !== null ? address.port : 0, secure, failures }
  })

/** The next socket whose handshake completed. */
export const acceptSecure = (server: TlsPeerServer, within = 5_000): Effect.Effect<tls.TLSSocket, Error> =>
  Queue.take(server.secure).pipe(
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("no TLS connection arrived") })
  )

/** A running child process with what it printed so far. */
export interface Child {
  readonly process: cp.ChildProcess
  readonly output: () => string
  /** Writes to its standard input. */
  readonly write: (data: string) => Effect.Effect<void>
  /** Waits until its output matches `pattern`. */
  readonly waitFor: (pattern: RegExp, within?: number) => Effect.Effect<void, Error>
  /** Waits until it exits; its exit code. */
  readonly exited: Effect.Effect<number | null>
}

/**
 * Starts `command` with `args` (no shell), stopped by its PID (SIGTERM, then SIGKILL) when the
 * scope closes. Its stdout and stderr are collected together.
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string } = {}
): Effect.Effect<Child, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = cp.spawn(command, args, {
        stdio: ["pipe", "pipe", "pipe"],
        ...(options.cwd ? { cwd: options.cwd } : {})
      })
      let output = ""
      let exitCode: number | null | undefined = undefined
      const exitWaiters: Array<() => void> = []
      child.stdout!.on("data", (data) => (output += String(data)))
      child.stderr!.on("data", (data) => (output += String(data)))
      child.stdin!.on("error", noop)
      child.on("error", (error) => (output += `\n[spawn error: ${error.message}]`))
      child.on("exit", (code) => {
        exitCode = code
        for (const waiter of exitWaiters.splice(0)) waiter()
      })
      const exited: Effect.Effect<number | null> = Effect.async<number | null>((resume) => {
        if (exitCode !== undefined) return resume(Effect.succeed(exitCode))
        exitWaiters.push(() => resume(Effect.succeed(exitCode ?? null)))
      })
      const result: Child = {
        process: child,
        output: () => output,
        write: (data) => Effect.async<void>((resume) => void child.stdin!.write(data, () => resume(Effect.void))),
        waitFor: (pattern, within = 10_000) =>
          Effect.gen(function*() {
            const deadline = Date.now() + within
            while (!pattern.test(output)) {
              if (Date.now() > deadline || exitCode !== undefined) {
                return yield* Effect.fail(new Error(`${command}: waited for ${pattern}, got:\n${output}`))
              }
              yield* Effect.sleep("10 millis")
            }
          }),
        exited
      }
      return result
    }),
    (child) =>
      Effect.gen(function*() {
        const pid = child.process.pid
        if (pid === undefined || child.process.exitCode !== null || child.process.signalCode !== null) return
        process.kill(pid, "SIGTERM")
        const stopped = yield* Effect.timeoutOption(child.exited, "2 seconds")
        if (stopped._tag === "None") {
          process.kill(pid, "SIGKILL")
          yield* child.exited
        }
      })
  )

/** Waits until something listens on 127.0.0.1:`port` (a child process that binds). */
export const waitListening = (port: number, host = "127.0.0.1", within = 10_000): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    for (;;) {
      const ok = yield* Effect.async<boolean>((resume) => {
        const socket = net.connect({ host, port })
        socket.on("error", () => resume(Effect.succeed(false)))
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed(true))
        })
      })
      if (ok) return
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`nothing listens on ${host}:${port}`))
      yield* Effect.sleep("20 millis")
    }
  })
