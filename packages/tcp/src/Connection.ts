/**
 * A connected socket with its buffered `Reader` and `Writer`: what `Tcp.connect` gives a client
 * and what a `Server` hands each handler.
 *
 * **Lifetime.** A connection belongs to the `Scope` it was made in. Closing the scope closes the
 * writer first (flushing what was written, bounded by `closeTimeout`), then the reader, then the
 * socket; the scope's close completes once the file descriptor is closed (it does not wait for
 * the peer's FIN).
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as net from "node:net"
import type { Address } from "./Address.js"
import type { Reader } from "./Reader.js"
import type { Writer } from "./Writer.js"

/**
 * A connected socket, without reader or writer (what `Tcp.connectSock` returns), its addresses
 * typed by the kind of target it was made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpSocket<A extends Address> {
  /** The local end, recorded when the socket connected or was accepted. */
  readonly localAddress: A
  /** The remote end, recorded when the socket connected or was accepted. */
  readonly remoteAddress: A
  /** Turns Nagle's algorithm off (`true`, the default for inet connections) or on. */
  readonly setNoDelay: (on: boolean) => Effect.Effect<void>
  /** Turns TCP keep-alive on or off; `initialDelay` is the idle time before the first probe. */
  readonly setKeepAlive: (on: boolean, initialDelay?: Duration.DurationInput) => Effect.Effect<void>
  /** Closes at once with RST: unsent data is dropped. */
  readonly reset: Effect.Effect<void>
  /** The underlying Node socket: an escape hatch. Half-close is `writer.close`. */
  readonly raw: net.Socket
}

/**
 * Options of an inet socket, for connected (`Tcp.ConnectOptions`) and accepted
 * (`Server.ServerOptions`) connections alike; ignored for Unix sockets.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketOptions {
  /** TCP_NODELAY (Nagle's algorithm off). Defaults to true. */
  readonly noDelay?: boolean | undefined
  /** TCP keep-alive: off (the default), on, or on with this idle time before the first probe. */
  readonly keepAlive?: boolean | Duration.DurationInput | undefined
}

/**
 * A connection: the socket, its reader and its writer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection<A extends Address> {
  readonly socket: TcpSocket<A>
  readonly reader: Reader
  readonly writer: Writer
}

/**
 * The local address of a connection.
 *
 * @since 0.1.0
 * @category accessors
 */
export const localAddress = <A extends Address>(connection: Connection<A>): A => connection.socket.localAddress

/**
 * The remote address of a connection.
 *
 * @since 0.1.0
 * @category accessors
 */
export const remoteAddress = <A extends Address>(connection: Connection<A>): A => connection.socket.remoteAddress
