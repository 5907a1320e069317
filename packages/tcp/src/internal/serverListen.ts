/**
 * Listening: binding a `net.Server` (retrying an OS-chosen port that met "address in use"), and
 * Unix socket files (a stale file, left by a process that died, is replaced; a live one or a
 * regular file never is).
 *
 * A Unix socket is bound under a temporary name in the same directory and renamed onto its path:
 * the replacement of a stale file is atomic, and libuv, which unlinks the name it bound when the
 * server closes, unlinks the temporary name (gone by then) rather than the path, which may belong
 * to a successor by then (a rolling restart). The path is removed on close only while it is still
 * the file this server bound (same device and inode).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { constVoid } from "effect/Function"
import cluster from "node:cluster"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import * as Address from "../Address.js"
import { ListenError } from "../TcpError.js"
import { codeOf, listenReason } from "./errno.js"
import type { ListenPlan, ServerConfig } from "./serverConfig.js"
import { maxUnixPathBytes } from "./validate.js"

/** Attempts to bind an OS-chosen port that met "address in use". */
const portRetries = 8
/** Attempts to replace a stale Unix socket file. */
const staleRetries = 3
/** Bound on the connect that tells a stale Unix socket file from a live one. */
const probeTimeoutMillis = 1000

/** What the listener calls once it listens. */
export interface Listeners {
  readonly onConnection: (socket: net.Socket) => void
  /** An error of the listener after it started listening (an accept error). */
  readonly onError: (error: Error) => void
}

/**
 * One bind-and-listen on a fresh `net.Server`. The server carries an `'error'` listener from its
 * creation to the end of its life. Interrupted while binding, it waits for the bind to settle
 * (Node resolves even an IP literal asynchronously, then binds) and closes what it opened.
 */
const bindOnce = (plan: ListenPlan, backlog: number, listeners: Listeners): Effect.Effect<net.Server, unknown> =>
  Effect.async<net.Server, unknown>((resume) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, listeners.onConnection)
    let up = false
    server.on("error", (error) => {
      if (up) listeners.onError(error)
    })
    const settle = () => {
      server.off("error", failed)
      server.off("listening", listening)
    }
    const failed = (error: unknown) => {
      settle()
      resume(Effect.fail(error))
    }
    const listening = () => {
      settle()
      up = true
      resume(Effect.succeed(server))
    }
    server.once("error", failed)
    server.once("listening", listening)
    try {
      server.listen(
        plan._tag === "Unix"
          ? { path: plan.path, backlog }
          : plan.host === undefined
          ? { port: plan.port, backlog }
          : { host: plan.host, port: plan.port, backlog }
      )
    } catch (error) {
      settle()
      server.close()
      resume(Effect.fail(error))
      return
    }
    return Effect.async<void>((done) => {
      settle()
      server.once("listening", () => {
        server.close()
        done(Effect.void)
      })
      server.once("error", () => done(Effect.void))
    })
  })

/** Connects to a Unix socket: `true` when refused (nobody listens: the file is stale). */
const refusedAt = (path: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ path })
    socket.on("error", constVoid)
    const timer = setTimeout(() => finish(false), probeTimeoutMillis)
    const finish = (refused: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(refused))
    }
    socket.once("connect", () => finish(false))
    socket.once("error", (error) => finish(codeOf(error) === "ECONNREFUSED"))
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * After EADDRINUSE on a Unix path (and before a `ServerCluster` binds one): removes the file if it is a socket nobody listens on.
 * `true` when binding is worth another try. A regular file is never removed.
 */
export const removeIfStale = (path: string): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const stat = yield* Effect.promise(() =>
      fs.promises.lstat(path).then(
        (stat) => stat.isSocket() ? "socket" as const : "other" as const,
        (error) => codeOf(error) === "ENOENT" ? "gone" as const : "other" as const
      )
    )
    if (stat === "gone") return true
    if (stat === "other") return false
    if (!(yield* refusedAt(path))) return false
    return yield* Effect.promise(() => fs.promises.unlink(path).then(() => true, (error) => codeOf(error) === "ENOENT"))
  })

/** The socket file a server bound and renamed onto its path: removed on close only while it is still this one. */
interface OwnedFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

const ownedFiles = new WeakMap<net.Server, OwnedFile>()

/**
 * Removes the Unix socket file of `server` if the file at its path is still the one it bound
 * (same device and inode): a successor that replaced it is left alone. Call after `close()`.
 */
export const removeOwnSocketFile = (server: net.Server): void => {
  const owned = ownedFiles.get(server)
  if (owned === undefined) return
  ownedFiles.delete(server)
  try {
    const stat = fs.lstatSync(owned.path, { throwIfNoEntry: false })
    if (stat !== undefined && stat.dev === owned.dev && stat.ino === owned.ino) fs.unlinkSync(owned.path)
  } catch {
    // Gone or not ours to remove: nothing to clean up.
  }
}

/** A temporary name next to `path`, within the OS limit on path length; none when it does not fit. */
const temporaryName = (path: string): string | undefined => {
  const dir = nodePath.dirname(path)
  const random = crypto.randomBytes(6).toString("hex")
  for (const name of [`.${nodePath.basename(path)}.${random}`, `.${random}`]) {
    const candidate = nodePath.join(dir, name)
    if (Buffer.byteLength(candidate, "utf8") <= maxUnixPathBytes) return candidate
  }
  return undefined
}

/** What is at `path`: nothing, a socket, or something else. */
const kindAt = (path: string): Effect.Effect<"gone" | "socket" | "other"> =>
  Effect.promise(() =>
    fs.promises.lstat(path).then(
      (stat) => stat.isSocket() ? "socket" as const : "other" as const,
      (error) => codeOf(error) === "ENOENT" ? "gone" as const : "other" as const
    )
  )

const addressInUse = (path: string): Error =>
  Object.assign(new Error(`listen EADDRINUSE: address already in use ${path}`), { code: "EADDRINUSE" })

/** Closes a server bound under a temporary name (libuv unlinks that name). */
const closeBound = (server: net.Server): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })

/**
 * Binds a Unix socket at `path` through a temporary name renamed onto it: a live server or a
 * file that is not a socket at `path` is "address in use"; a stale socket is replaced atomically.
 */
const bindUnix = (
  path: string,
  backlog: number,
  listeners: Listeners
): Effect.Effect<net.Server, unknown> =>
  Effect.gen(function*() {
    // In a node:cluster worker the primary binds the path and shares that one listener with every
    // worker asking for the same path (ServerCluster has replaced a stale file first): bind the path
    // itself, as a temporary name per worker would give each worker a listener of its own.
    if (cluster.isWorker) return yield* bindOnce({ _tag: "Unix", path }, backlog, listeners)
    const temporary = temporaryName(path)
    // A directory so long that no temporary name fits: bind the path itself.
    if (temporary === undefined) return yield* bindOnce({ _tag: "Unix", path }, backlog, listeners)
    const kind = yield* kindAt(path)
    if (kind === "other" || (kind === "socket" && !(yield* refusedAt(path)))) {
      return yield* Effect.fail(addressInUse(path))
    }
    // Interrupted while binding, bindOnce closes what it opened (libuv unlinks the temporary
    // name). From its answer on, everything is synchronous, so no interruption can come between
    // the bind and the caller holding the server (as for a bind of a port).
    const server = yield* bindOnce({ _tag: "Unix", path: temporary }, backlog, listeners)
    try {
      fs.renameSync(temporary, path)
      const stat = fs.lstatSync(path)
      ownedFiles.set(server, { path, dev: stat.dev, ino: stat.ino })
    } catch (error) {
      return yield* Effect.zipRight(Effect.uninterruptible(closeBound(server)), Effect.fail(error))
    }
    return server
  })

/** Binds and listens as `cfg` says, with the retries above, in a span. */
export const listen = (cfg: ServerConfig<unknown>, listeners: Listeners): Effect.Effect<net.Server, ListenError> =>
  Effect.gen(function*() {
    const plan = cfg.plan
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.either(
        plan._tag === "Unix" && !plan.path.startsWith("\0")
          ? bindUnix(plan.path, cfg.backlog, listeners)
          : bindOnce(plan, cfg.backlog, listeners)
      )
      if (Either.isRight(result)) {
        // The span says where the server is bound (a port chosen by the OS, a resolved host name).
        const bound = result.right.address()
        if (typeof bound === "object" && bound !== null) {
          yield* Effect.annotateCurrentSpan(
            "effect-tcp.listen",
            Address.format(Address.inet(bound.address, bound.port))
          )
        }
        return result.right
      }
      const error = result.left
      if (codeOf(error) === "EADDRINUSE") {
        if (plan._tag === "Inet" && plan.port === 0 && attempt < portRetries) continue
        if (
          plan._tag === "Unix" && !plan.path.startsWith("\0") && attempt < staleRetries &&
          (yield* removeIfStale(plan.path))
        ) continue
      }
      return yield* Effect.fail(new ListenError({ reason: listenReason(error), target: cfg.target, cause: error }))
    }
  }).pipe(Effect.withSpan("effect-tcp.server.listen", {
    kind: "server",
    captureStackTrace: false,
    attributes: { "effect-tcp.listen": cfg.target }
  }))
