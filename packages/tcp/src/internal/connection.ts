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
import { readError, writeError } from "./errno.js"
import * as metrics from "./metrics.js"
import { type HandOffScheduler, type ReaderConfig, ReaderImpl } from "./reader.js"
import { type WriterConfig, WriterImpl } from "./writer.js"

const readerClosed = new ReadError({ reason: "Closed" })
const writerClosed = new WriteError({ reason: "Closed" })

/** Bound on waiting for a TLS server's close_notify and FIN after ours (see `closeSocket`). */
const tlsLingerMillis = 2_000

/**
 * Set (by the TLS client) on a TLS 1.3 client socket: the server may send records of its own
 * after the handshake (session tickets) that reach us only after our application data went out.
 */
export const lingerKey: unique symbol = Symbol("effect-tcp/tls/linger")

/**
 * Destroys a socket and waits until its descriptor is closed (`'close'`); it does not wait for
 * the peer's FIN.
 *
 * One exception, a TLS 1.3 client that has received no application byte when its writer was
 * closed (close_notify and FIN sent): it first waits, up to 2 s, for the server's close_notify
 * and FIN, reading and dropping what arrives. The server's session tickets, sent after the
 * handshake, may not have arrived yet; a descriptor closed with unread bytes, or that receives
 * bytes after its close, answers with RST, and an RST makes both kernels drop the bytes in
 * flight: the server would lose the end of what we wrote. Once any application byte has
 * arrived, the tickets (which precede it) have been read, and the release is as over plaintext.
 */
export const closeSocket = (socket: net.Socket): Effect.Effect<void> =>
  Effect.async<void>((resume) => closeSocketThen(socket, () => resume(Effect.void)))

/** `closeSocket` outside a fiber: `done` is called once the descriptor is closed. */
export const closeSocketThen = (socket: net.Socket, done: () => void): void => {
  if (socket.closed) return done()
  socket.once("close", done)
  if (
    (socket as { [lingerKey]?: boolean })[lingerKey] === true && socket.bytesRead === 0 &&
    socket.writableEnded && !socket.destroyed
  ) {
    const timer = setTimeout(() => socket.destroy(), tlsLingerMillis)
    socket.once("close", () => clearTimeout(timer))
    socket.resume()
    return
  }
  socket.destroy()
}

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

const inetOf = (host: string | undefined, port: number | undefined): Address.Inet =>
  Address.inet(host ?? "0.0.0.0", port ?? 0)

/**
 * A connected Node socket as a `TcpSocket`. The addresses are what the caller knows, or, for an
 * inet socket, read from the socket on first use (Node's `getsockname`/`getpeername`, then
 * cached): most connections never ask. A socket whose addresses may be needed after its peer
 * has gone (a connection held before it is served) should have them read at once (`addresses`).
 * The effects are built on first use; nothing per connection but this object.
 */
export class TcpSocketImpl<A extends Address.Address> implements Connection.TcpSocket<A> {
  constructor(
    readonly raw: net.Socket,
    private local: A | undefined,
    private remote: A | undefined
  ) {}

  /** Reads both addresses now (an inet socket), so that they survive the peer's departure. */
  addresses(): this {
    void this.localAddress
    void this.remoteAddress
    return this
  }

  get localAddress(): A {
    return this.local ??= inetOf(this.raw.localAddress, this.raw.localPort) as A
  }

  get remoteAddress(): A {
    return this.remote ??= inetOf(this.raw.remoteAddress, this.raw.remotePort) as A
  }

  get setNoDelay(): (on: boolean) => Effect.Effect<void> {
    const socket = this.raw
    return (on) =>
      Effect.sync(() => {
        if (!socket.destroyed) socket.setNoDelay(on)
      })
  }

  get setKeepAlive(): (on: boolean, initialDelay?: Duration.DurationInput) => Effect.Effect<void> {
    const socket = this.raw
    return (on, initialDelay) =>
      Effect.sync(() => {
        if (!socket.destroyed) {
          socket.setKeepAlive(on, initialDelay === undefined ? 0 : Duration.toMillis(Duration.decode(initialDelay)))
        }
      })
  }

  get reset(): Effect.Effect<void> {
    return resetSocket(this.raw)
  }

  toJSON(): unknown {
    return { _id: "effect-tcp/TcpSocket", localAddress: this.localAddress, remoteAddress: this.remoteAddress }
  }
}

/** Wraps a connected Node socket as a `TcpSocket`. */
export const makeTcpSocket = <A extends Address.Address>(
  socket: net.Socket,
  localAddress: A,
  remoteAddress: A
): Connection.TcpSocket<A> => new TcpSocketImpl(socket, localAddress, remoteAddress)

/** Where an attached socket keeps its connection, for the shared event listeners below. */
const attachedKey: unique symbol = Symbol("effect-tcp/attached")

/** A connection as `attach` builds it, with what its socket's listeners need. */
export class Attached<A extends Address.Address> implements Connection.Connection<A> {
  /** `socket.bytesWritten` when attached (bytes written by someone else before are not counted). */
  readonly bytesWrittenAtStart: number
  /** Bytes the connection this one upgraded (STARTTLS) read and wrote, counted when this one closes. */
  readBefore = 0
  writtenBefore = 0
  /** Set when STARTTLS replaced this connection: the successor counts the connection closed. */
  upgraded = false
  constructor(
    readonly socket: Connection.TcpSocket<A>,
    readonly reader: ReaderImpl,
    readonly writer: WriterImpl,
    readonly counters: metrics.SideCounters
  ) {
    this.bytesWrittenAtStart = socket.raw.bytesWritten
  }
}

type AttachedSocket = net.Socket & { [attachedKey]: Attached<Address.Address> }

// The socket's listeners: shared functions (`this` is the socket), no closures per connection.
function onData(this: AttachedSocket, chunk: Buffer): void {
  this[attachedKey].reader.push(chunk)
}
function onEnd(this: AttachedSocket): void {
  this[attachedKey].reader.end()
}
function onError(this: AttachedSocket, error: Error): void {
  const attached = this[attachedKey]
  attached.reader.fail(readError(error))
  attached.writer.fail(writeError(error))
}
function onClose(this: AttachedSocket): void {
  const attached = this[attachedKey]
  attached.reader.fail(readerClosed)
  attached.writer.fail(writerClosed)
  if (attached.upgraded) return
  attached.counters.closed(
    attached.readBefore + attached.reader.received,
    attached.writtenBefore + this.bytesWritten - attached.bytesWrittenAtStart
  )
}

/** A STARTTLS upgrade in progress: the plaintext connection and its byte counts before the handshake. */
export interface Upgrade {
  readonly attached: Attached<Address.Address>
  readonly read: number
  readonly written: number
}

/**
 * Takes a plaintext connection's byte counts when STARTTLS starts (the handshake's own bytes go
 * through the same socket and are not application bytes); none for a connection made elsewhere.
 */
export const upgradeStart = <A extends Address.Address>(connection: Connection.Connection<A>): Upgrade | undefined =>
  connection instanceof Attached
    ? {
      attached: connection as Attached<Address.Address>,
      read: connection.readBefore + connection.reader.received,
      written: connection.writtenBefore + connection.socket.raw.bytesWritten - connection.bytesWrittenAtStart
    }
    : undefined

/**
 * Gives a connected socket its reader and writer, synchronously and outside any scope: the
 * caller must run `release` when done with the connection (before the socket's own release).
 * `attach` is the scoped form. `upgradeOf`: the plaintext connection that STARTTLS replaces; the
 * metrics count one connection, opened by it and closed by this one, with the bytes of both.
 * `handOff`: the scheduler of the fibers that will read (a server's), see `HandOffScheduler`.
 */
export const attachUnscoped = <A extends Address.Address>(
  tcpSocket: Connection.TcpSocket<A>,
  readerConfig: ReaderConfig,
  writerConfig: WriterConfig,
  side: metrics.Side,
  upgradeOf?: Upgrade,
  handOff?: HandOffScheduler
): Attached<A> => {
  const socket = tcpSocket.raw as AttachedSocket
  // The socket is the reader's source (its `pause` and `resume`) and the writer's abort.
  const attached = new Attached(
    tcpSocket,
    new ReaderImpl(socket, readerConfig, handOff),
    new WriterImpl(socket, writerConfig),
    metrics.forSide(side)
  )
  socket[attachedKey] = attached as Attached<Address.Address>
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.on("error", onError)
  if (upgradeOf !== undefined && !upgradeOf.attached.upgraded) {
    upgradeOf.attached.upgraded = true
    attached.readBefore = upgradeOf.read
    attached.writtenBefore = upgradeOf.written
  } else {
    attached.counters.opened()
  }
  if (socket.closed) onClose.call(socket)
  else socket.once("close", onClose)
  socket.resume()
  return attached
}

/**
 * `release`, then the socket closed, outside a fiber: the writer is closed (flushed), then the
 * reader, then the socket is destroyed; `done` is called once its descriptor is closed.
 */
export const releaseThen = (attached: Attached<Address.Address>, done: () => void): void =>
  attached.writer.closeThen(() => {
    attached.reader.close()
    closeSocketThen(attached.socket.raw, done)
  })

/** Closes an attached connection's writer (flushing), then its reader. */
export const release = (attached: Attached<Address.Address>): Effect.Effect<void> =>
  Effect.map(attached.writer.close, () => attached.reader.close())

/**
 * Gives a connected socket its reader and writer. The socket must already be owned by the
 * current scope (its finalizer closes it); this adds the finalizer that closes the writer
 * (flushing) and then the reader, which therefore runs before the socket's.
 */
export const attach = <A extends Address.Address>(
  tcpSocket: Connection.TcpSocket<A>,
  readerConfig: ReaderConfig,
  writerConfig: WriterConfig,
  side: metrics.Side,
  upgradeOf?: Upgrade
): Effect.Effect<Connection.Connection<A>, never, Scope.Scope> =>
  Effect.uninterruptible(Effect.suspend(() => {
    const attached = attachUnscoped(tcpSocket, readerConfig, writerConfig, side, upgradeOf)
    return Effect.as(Effect.addFinalizer(() => release(attached as Attached<Address.Address>)), attached)
  }))
