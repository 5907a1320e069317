/**
 * Plain `node:net` peers for the client tests, as scoped Effect resources: a listening server
 * whose accepted sockets the test drives by hand, a listener whose accept queue is full (so
 * handshakes hang), and small helpers to read and write on raw sockets.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as cp from "node:child_process"
import * as net from "node:net"

const noop = () => {}

export interface RawServer {
  readonly server: net.Server
  /** The port listened on (0 for a Unix socket). */
  readonly port: number
  /** The host or path listened on. */
  readonly address: string
  /** Accepted sockets, in arrival order. */
  readonly accepted: Queue.Queue<net.Socket>
  /** Every accepted socket still open. */
  readonly sockets: Set<net.Socket>
}

export interface RawServerOptions {
  /** IP to listen on (default 127.0.0.1); ignored with `path`. */
  readonly host?: string
  readonly path?: string
  /** Default true: the peer can still write after our FIN. */
  readonly allowHalfOpen?: boolean
  /** Accepted sockets read nothing until resumed (a peer that never reads). */
  readonly pauseOnConnect?: boolean
  readonly noDelay?: boolean
  /** Runs on each accepted socket before it is queued. */
  readonly onConnection?: (socket: net.Socket) => void
}

/** A listening `net.Server`; closing the scope destroys every accepted socket and the listener. */
export const rawServer = (options: RawServerOptions = {}): Effect.Effect<RawServer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const accepted = yield* Queue.unbounded<net.Socket>()
    const sockets = new Set<net.Socket>()
    const server = net.createServer({
      allowHalfOpen: options.allowHalfOpen ?? true,
      pauseOnConnect: options.pauseOnConnect ?? false,
      noDelay: options.noDelay ?? true
    })
    server.on("connection", (socket) => {
      socket.on("error", noop)
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
      options.onConnection?.(socket)
      Queue.unsafeOffer(accepted, socket)
    })
    yield* Effect.acquireRelease(
      Effect.async<void, Error>((resume) => {
        const onError = (error: Error) => resume(Effect.fail(error))
        server.once("error", onError)
        const listening = () => {
          server.off("error", onError)
          server.on("error", noop)
          resume(Effect.void)
        }
        if (options.path !== undefined) server.listen({ path: options.path }, listening)
        else server.listen({ host: options.host ?? "127.0.0.1", port: 0 }, listening)
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address()
    return {
      server,
      port: typeof address === "object" && address !== null ? address.port : 0,
      address: options.path ?? options.host ?? "127.0.0.1",
      accepted,
      sockets
    }
  })

/** The next accepted socket (fails after `within` ms). */
export const accept = (server: RawServer, within = 5_000): Effect.Effect<net.Socket, Error> =>
  Queue.take(server.accepted).pipe(
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("no connection accepted in time") })
  )

/** Everything a raw socket receives until the peer's FIN (or the socket closes). */
export const readToEnd = (socket: net.Socket): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    const parts: Array<Buffer> = []
    let done = false
    const finish = () => {
      if (done) return
      done = true
      resume(Effect.succeed(Buffer.concat(parts)))
    }
    socket.on("data", (chunk: Buffer) => parts.push(chunk))
    socket.once("end", finish)
    socket.once("close", finish)
    socket.resume()
  })

/** Like `readToEnd`, but also says whether the stream ended cleanly (FIN) rather than by a reset. */
export const readToEndWithStatus = (
  socket: net.Socket
): Effect.Effect<{ bytes: Buffer; sawEnd: boolean; error: unknown }> =>
  Effect.async((resume) => {
    const parts: Array<Buffer> = []
    let sawEnd = false
    let error: unknown = undefined
    socket.on("data", (chunk: Buffer) => parts.push(chunk))
    socket.once("end", () => {
      sawEnd = true
      resume(Effect.succeed({ bytes: Buffer.concat(parts), sawEnd, error }))
    })
    socket.once("error", (e) => {
      error = e
    })
    socket.once("close", () => resume(Effect.succeed({ bytes: Buffer.concat(parts), sawEnd, error })))
    socket.resume()
  })

/** Writes on a raw socket and waits for the write's callback. */
export const rawWrite = (socket: net.Socket, data: Uint8Array | string): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    socket.write(data, (error) => resume(error ? Effect.fail(error) : Effect.void))
  })

/** Waits until the event loop has turned `n` times (lets I/O happen between steps). */
export const ticks = (n: number): Effect.Effect<void> =>
  n <= 0 ? Effect.void : Effect.zipRight(
    Effect.async<void>((resume) => {
      setImmediate(() => resume(Effect.void))
    }),
    Effect.suspend(() => ticks(n - 1))
  )

/**
 * Writes `chunks` one by one on a raw socket, each after a turn of the event loop (TCP_NODELAY is
 * on for the raw server's sockets), so they tend to arrive as separate reads; then sends FIN.
 */
export const writeChunksThenEnd = (socket: net.Socket, chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    for (const chunk of chunks) {
      if (chunk.byteLength > 0) yield* rawWrite(socket, chunk)
      yield* ticks(1)
    }
    yield* Effect.async<void>((resume) => {
      socket.end(() => resume(Effect.void))
    })
  })

/** A port that was free a moment ago (listened on by `rawServer` on `host`, then released). */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number, Error> =>
  Effect.scoped(Effect.map(rawServer({ host }), (server) => server.port))

/** A unique Linux abstract socket name (`"\0..."`). */
export const abstractName = (): string => `\0effect-tcp-test-${process.pid}-${Math.random().toString(36).slice(2)}`

/**
 * A TCP listener on 127.0.0.1 whose handshakes hang: Node accepts eagerly, so the listener lives
 * in a child Node process that binds with `backlog: 1` and then blocks its event loop for good
 * (Atomics.wait), so it never accepts. Linux keeps backlog + 1 = 2 completed connections in the
 * accept queue; once they are there (two filler connects) it drops every further SYN, and a
 * connect hangs in SYN_SENT, retransmitting. (`backlog: 0` does not work: Node turns 0 into its
 * default of 511.) Closing the scope kills the child and destroys the fillers.
 */
export const hangingListener: Effect.Effect<{ readonly port: number }, Error, Scope.Scope> = Effect.gen(function*() {
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      cp.spawn(process.execPath, [
        "-e",
        `const net = require("node:net")
const s = net.createServer().listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
  process.stdout.write(String(s.address().port) + "\\n", () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  })
})`
      ], { stdio: ["ignore", "pipe", "inherit"] })
    ),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  )
  const port = yield* Effect.async<number, Error>((resume) => {
    child.stdout!.once("data", (data) => resume(Effect.succeed(Number(String(data).trim()))))
    child.once("exit", () => resume(Effect.fail(new Error("listener process exited"))))
  }).pipe(Effect.timeoutFail({ duration: 10_000, onTimeout: () => new Error("listener process did not start") }))
  // Fill the accept queue: two connects complete, the rest of the fillers hang like ours will.
  const fillers = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: 3 }, () => {
        const socket = net.connect({ host: "127.0.0.1", port })
        socket.on("error", noop)
        return socket
      })
    ),
    (fillers) =>
      Effect.forEach(fillers, (socket) =>
        Effect.async<void>((resume) => {
          if (socket.closed) return resume(Effect.void)
          socket.once("close", () => resume(Effect.void))
          socket.destroy()
        }), { discard: true })
  )
  yield* Effect.async<void>((resume) => {
    let connected = 0
    for (const socket of fillers.slice(0, 2)) {
      socket.once("connect", () => {
        if (++connected === 2) resume(Effect.void)
      })
    }
  }).pipe(Effect.timeout("5 seconds"), Effect.ignore)
  return { port }
})

/** Drains a queue of sockets (for a final check). */
export const drain = (server: RawServer): Effect.Effect<Array<net.Socket>> =>
  Effect.map(Queue.takeAll(server.accepted), Chunk.toArray)
