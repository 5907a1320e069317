/**
 * Where a byte goes from a `net.Socket` to the `Reader`, and from the `Writer` to the socket:
 * `attach` wires one socket's events to one reader and one writer, and registers the release
 * order (writer, then reader; the socket's own finalizer, registered when it was opened, runs
 * last).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import * as Address from "../Address.js"
import type * as Connection from "../Connection.js"
import { ReadError, WriteError } from "../TcpError.js"
import * as metrics from "./metrics.js"
import { type ReaderConfig, ReaderImpl } from "./reader.js"
import { type WriterConfig, writeErrorFromNode, WriterImpl } from "./writer.js"

const readerClosed = new ReadError({ reason: "Closed" })
const writerClosed = new WriteError({ reason: "Closed" })

/** Destroys a socket and waits until its descriptor is closed (`'close'`). */
export const closeSocket = (socket: net.Socket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    socket.destroy()
  })

/** Resets a socket (RST, unsent data dropped) and waits until its descriptor is closed. */
const resetSocket = (socket: net.Socket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") socket.resetAndDestroy()
    else socket.destroy()
  })

/** The inet addresses of a connected socket, with fallbacks for a socket that already closed. */
export const inetAddresses = (
  socket: net.Socket,
  fallbackRemote?: Address.Inet
): { readonly local: Address.Inet; readonly remote: Address.Inet } => ({
  local: Address.inet(socket.localAddress ?? "0.0.0.0", socket.localPort ?? 0),
  remote: socket.remoteAddress !== undefined
    ? Address.inet(socket.remoteAddress, socket.remotePort ?? 0)
    : fallbackRemote ?? Address.inet("0.0.0.0", 0)
})

/** Wraps a connected Node socket as a `TcpSocket`. */
export const makeTcpSocket = <A extends Address.Address>(
  socket: net.Socket,
  localAddress: A,
  remoteAddress: A
): Connection.TcpSocket<A> => ({
  localAddress,
  remoteAddress,
  raw: socket,
  setNoDelay: (on) =>
    Effect.sync(() => {
      if (!socket.destroyed) socket.setNoDelay(on)
    }),
  setKeepAlive: (on, initialDelay) =>
    Effect.sync(() => {
      if (!socket.destroyed) {
        socket.setKeepAlive(on, initialDelay === undefined ? 0 : Duration.toMillis(Duration.decode(initialDelay)))
      }
    }),
  reset: resetSocket(socket)
})

const readErrorFromNode = (error: unknown): ReadError => {
  const code = (error as { code?: unknown } | undefined)?.code
  return code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED" || code === "ETIMEDOUT"
    ? new ReadError({ reason: "Reset", cause: error })
    : new ReadError({ reason: "Unknown", cause: error })
}

/**
 * Gives a connected socket its reader and writer. The socket must already be owned by the
 * current scope (its finalizer closes it); this adds the finalizer that closes the writer
 * (flushing) and then the reader, which therefore runs before the socket's.
 */
export const attach = <A extends Address.Address>(
  tcpSocket: Connection.TcpSocket<A>,
  readerConfig: ReaderConfig,
  writerConfig: WriterConfig,
  side: metrics.Side
): Effect.Effect<Connection.Connection<A>, never, Scope.Scope> =>
  Effect.uninterruptible(Effect.gen(function*() {
    const socket = tcpSocket.raw
    const reader = new ReaderImpl({
      pause: () => socket.pause(),
      resume: () => socket.resume()
    }, readerConfig)
    const writer = new WriterImpl(socket, writerConfig, () => socket.destroy())
    const counters = metrics.forSide(side)

    socket.on("data", (chunk: Buffer) => reader.push(chunk))
    socket.on("end", () => reader.end())
    socket.on("error", (error) => {
      reader.fail(readErrorFromNode(error))
      writer.fail(writeErrorFromNode(error))
    })
    const bytesWrittenAtStart = socket.bytesWritten
    const onClose = () => {
      reader.fail(readerClosed)
      writer.fail(writerClosed)
      counters.closed(reader.received, socket.bytesWritten - bytesWrittenAtStart)
    }
    counters.opened()
    if (socket.closed) onClose()
    else socket.once("close", onClose)
    yield* Effect.addFinalizer(() => Effect.zipRight(writer.close, Effect.sync(() => reader.close())))
    socket.resume()
    return { socket: tcpSocket, reader, writer }
  }))
