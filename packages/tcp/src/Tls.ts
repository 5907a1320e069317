/**
 * TLS: the same connections, `Reader`, `Writer` and `Server` over TLS, on TCP and Unix sockets.
 *
 * **Client.** `Tcp.connect` (and `withConnection`, `Reconnect`, the platform adapter) take a
 * `tls` option ({@link ClientOptions}). The TLS handshake is part of connecting: it runs inside
 * the connect `timeout`, `interrupt` and fiber interruption abort it and leave no descriptor, and
 * a handshake that fails is a `ConnectError` whose `reason` says why (`"CertificateUntrusted"`,
 * `"HostnameMismatch"`, `"CertificateExpired"`, `"HandshakeFailed"`) and whose `cause` is a
 * {@link TlsError} keeping the OpenSSL code and the address that was tried.
 *
 * Mutual TLS 1.3: a client certificate that the server refuses fails the client's first read,
 * not its connect (see {@link ClientOptions} `cert`).
 *
 * **Server.** `Server.make` / `layer` / `serve` take a `tls` option ({@link ServerOptions}): a
 * handler starts only after its client's handshake completed; `handshakeTimeout` bounds it; a
 * failed handshake never reaches the handler or `onHandlerError`: it is counted in
 * {@link handshakeFailures} by reason and logged at debug level.
 *
 * **STARTTLS.** {@link startTls} upgrades an open plaintext connection in place, on either side,
 * and returns a new `Connection` over TLS; the old reader and writer fail `Closed` afterwards.
 * Plaintext bytes the peer sent after the upgrade command that are already buffered are never
 * delivered as if they came over TLS: the upgrade fails `PlaintextBuffered` (or drops them, with
 * `buffered: "discard"`).
 *
 * **Closing.** Releasing a TLS connection is as over plaintext: the writer first (flush, then
 * close_notify and FIN), then the reader, then the descriptor, without waiting for the peer's
 * close_notify (as `tlsSocket.end()` then `destroy()` in `node:tls`). One exception: a TLS 1.3
 * client that has received no application byte yet waits, up to 2 seconds, for the server's
 * close_notify and FIN, reading and dropping what arrives. A TLS 1.3 server sends session
 * tickets after the handshake; a descriptor that is closed before they arrive (or with them
 * unread) answers with RST, and an RST makes the server's kernel drop the bytes it has not read
 * yet. Once a byte of the server's has arrived, the tickets before it have too.
 *
 * **Information.** {@link info} returns the peer certificate, negotiated protocol version,
 * cipher and ALPN protocol of a TLS connection.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Tcp, Tls, WhereToConnect } from "effect-tcp"
 *
 * const ping = Tcp.withConnection(
 *   WhereToConnect.hostAndPort("localhost", 6380),
 *   (conn) =>
 *     Effect.gen(function*() {
 *       const tls = Tls.info(conn)
 *       if (Option.isSome(tls)) yield* Effect.log(`${tls.value.protocol} ${tls.value.cipher}`)
 *       yield* conn.writer.write("PING\r\n")
 *       return yield* conn.reader.readLine
 *     }),
 *   { tls: { ca: "-----BEGIN CERTIFICATE-----\n…" }, timeout: "5 seconds" }
 * )
 * ```
 *
 * @since 0.2.0
 * @module
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Address } from "./Address.js"
import type { Connection } from "./Connection.js"
import * as metrics from "./internal/metrics.js"
import * as internal from "./internal/tls.js"
import type { InvalidArgument, TlsError } from "./TcpError.js"

/**
 * PEM text or DER bytes, or several of them.
 *
 * @since 0.2.0
 * @category models
 */
export type Pem = string | Uint8Array | ReadonlyArray<string | Uint8Array>

/**
 * A TLS protocol version, for `minVersion`.
 *
 * @since 0.2.0
 * @category models
 */
export type Version = "TLSv1.2" | "TLSv1.3"

/**
 * The `tls` option of a connect.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientOptions {
  /** Trusted certificate authorities (PEM). Defaults to the system's (Node's bundled roots). */
  readonly ca?: Pem | undefined
  /**
   * Client certificate chain (PEM), for servers that ask for one (mutual TLS); with `key`.
   *
   * A server that refuses the client's certificate: under TLS 1.2 the connect fails
   * (`ConnectError`, a handshake failure reason). Under TLS 1.3 (the default when both sides
   * support it) the client's handshake completes before the server has checked the client's
   * certificate, so the connect succeeds and the refusal shows on the first read (or a later
   * write):
   * - no certificate sent to a server that requires one: the server's `certificate_required`
   *   alert, a `ReadError` (or `WriteError`) with reason `"Unknown"` whose `cause.code` is
   *   `"ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"`;
   * - a certificate the server does not trust: an OpenSSL server (`openssl s_server -Verify`)
   *   sends an alert, e.g. `cause.code` `"ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"`; a Node server
   *   (effect-tcp's too) closes without an alert, so the first read returns the end of the
   *   stream (`Reset` if the client had written bytes the server never read).
   */
  readonly cert?: Pem | undefined
  /** Private key of `cert` (PEM). */
  readonly key?: Pem | undefined
  /** Client certificate and key as PKCS#12 (instead of `cert` and `key`). */
  readonly pfx?: string | Uint8Array | undefined
  /** Passphrase of `key` or `pfx`. */
  readonly passphrase?: string | undefined
  /**
   * The server name sent in SNI and checked against the certificate. Defaults to the host of
   * `hostAndPort` (no SNI when it is an IP literal; the certificate is then checked against the
   * IP address), and to `"localhost"` for a Unix socket. Must not be an IP literal.
   */
  readonly servername?: string | undefined
  /** ALPN protocols to offer, most preferred first (e.g. `["h2", "http/1.1"]`). */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /** Lowest protocol version accepted. Defaults to `"TLSv1.2"`. */
  readonly minVersion?: Version | undefined
  /**
   * `false` turns certificate verification OFF: any certificate, any name. For tests only;
   * never in production. Defaults to `true`.
   */
  readonly rejectUnauthorized?: boolean | undefined
}

/**
 * One certificate of a server, with the server names it is for (SNI).
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerCertificate {
  /** Certificate chain (PEM). */
  readonly cert: Pem
  /** Its private key (PEM). */
  readonly key: Pem
  /** Passphrase of `key`. */
  readonly passphrase?: string | undefined
  /**
   * The SNI names this certificate serves (`"*.example.com"` matches one label). The first
   * certificate of a server is also its default, for clients that send no or an unknown name.
   */
  readonly servernames?: ReadonlyArray<string> | undefined
}

/**
 * The `tls` option of a server.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerOptions {
  /** The server's certificates; the first one is the default (see {@link ServerCertificate}). */
  readonly certificates: ReadonlyArray<ServerCertificate>
  /** Ask every client for a certificate (mutual TLS). Defaults to false. */
  readonly requestCert?: boolean | undefined
  /**
   * With `requestCert`: refuse a client without a certificate signed by `ca`. Defaults to true.
   * `false` accepts any (or no) client certificate: see `Tls.info(conn).authorized`.
   */
  readonly rejectUnauthorized?: boolean | undefined
  /** Authorities that client certificates must chain to (PEM). Defaults to the system's. */
  readonly ca?: Pem | undefined
  /** ALPN protocols the server speaks, most preferred first. */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /** Lowest protocol version accepted. Defaults to `"TLSv1.2"`. */
  readonly minVersion?: Version | undefined
  /** Bound on each client's handshake, from the start of its connection. Defaults to 10 seconds. */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
}

export {
  /**
   * Why a TLS handshake failed (see `TcpError.HandshakeFailureReason`).
   *
   * @since 0.2.0
   * @category models
   */
  type HandshakeFailureReason,
  /**
   * A TLS failure (see `TcpError.TlsError`).
   *
   * @since 0.2.0
   * @category errors
   */
  TlsError,
  /**
   * Why a TLS operation failed (see `TcpError.TlsErrorReason`).
   *
   * @since 0.2.0
   * @category models
   */
  type TlsErrorReason
} from "./TcpError.js"

/**
 * A peer's certificate, as the handshake delivered it.
 *
 * @since 0.2.0
 * @category models
 */
export interface PeerCertificate {
  /** Subject fields (`CN`, `O`, …); repeated fields are joined with `", "`. */
  readonly subject: Readonly<Record<string, string>>
  readonly issuer: Readonly<Record<string, string>>
  readonly validFrom: Date
  readonly validTo: Date
  /** Subject alternative names as OpenSSL prints them: `"DNS:localhost"`, `"IP Address:127.0.0.1"`. */
  readonly subjectAltNames: ReadonlyArray<string>
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string
  readonly serialNumber: string
  /** The certificate in DER. */
  readonly raw: Uint8Array
}

/**
 * What a TLS connection negotiated.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsInfo {
  /** `"TLSv1.3"`, `"TLSv1.2"`, … */
  readonly protocol: string
  /** The cipher suite's standard name, e.g. `"TLS_AES_256_GCM_SHA384"`. */
  readonly cipher: string
  /** The ALPN protocol agreed on, if any. */
  readonly alpnProtocol: Option.Option<string>
  /** The peer's certificate; none when the peer sent none (a client without a certificate). */
  readonly peerCertificate: Option.Option<PeerCertificate>
  /** Whether the peer's certificate was verified against the trusted authorities. */
  readonly authorized: boolean
  /** The SNI name: the one sent (client) or received (server), if any. */
  readonly servername: Option.Option<string>
}

/**
 * What a TLS connection negotiated; none for a plaintext connection.
 *
 * @since 0.2.0
 * @category accessors
 */
export const info: <A extends Address>(connection: Connection<A>) => Option.Option<TlsInfo> = internal.info

/**
 * Whether a connection runs over TLS.
 *
 * @since 0.2.0
 * @category accessors
 */
export const isTls: <A extends Address>(connection: Connection<A>) => boolean = internal.isTls

/**
 * Options of {@link startTls}.
 *
 * @since 0.2.0
 * @category models
 */
export type StartTlsOptions =
  | ({ readonly side: "client" } & ClientOptions & StartTlsCommon)
  | ({ readonly side: "server" } & ServerOptions & StartTlsCommon)

/**
 * Options of {@link startTls} on both sides.
 *
 * @since 0.2.0
 * @category models
 */
export interface StartTlsCommon {
  /**
   * Plaintext bytes already in the reader at the upgrade (the peer sent them after the command,
   * before the handshake): `"fail"` (the default) fails with `PlaintextBuffered` and closes the
   * connection; `"discard"` drops them and goes on. They are never delivered as TLS bytes.
   */
  readonly buffered?: "fail" | "discard" | undefined
  /** Bound on the handshake. Defaults to 10 seconds (`handshakeTimeout` on the server side). */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * STARTTLS: upgrades an open plaintext connection in place, as the TLS client or the TLS
 * server, and returns a new `Connection` over TLS on the same socket, owned by the current
 * scope. Call it once the protocol has agreed to switch (after "220 Ready to start TLS", say),
 * with nothing more to read in plaintext. What was written before is flushed first, in
 * plaintext. Afterwards the old reader and writer fail with `Closed`.
 *
 * The new connection has the old one's reader and writer options. A client checks the server's
 * certificate against `servername` when given (and sends it as SNI); otherwise against the peer's
 * IP address (no SNI), or `"localhost"` over a Unix socket: the plaintext connection no longer
 * knows the host name it was made for, so pass `servername` when you connected by name.
 *
 * Interruption: interrupting the upgrade destroys the socket: the connection is gone.
 *
 * Fails with: `TlsError` (`PlaintextBuffered`, `Timeout`, `AlreadyTls`, `Closed`, a handshake
 * failure reason), `InvalidArgument`. After any failure the socket is closed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp, Tls, WhereToConnect } from "effect-tcp"
 *
 * declare const ca: string
 *
 * const smtp = Effect.scoped(Effect.gen(function*() {
 *   const plain = yield* Tcp.connect(WhereToConnect.hostAndPort("localhost", 587))
 *   yield* plain.reader.readLine // 220 greeting
 *   yield* plain.writer.write("STARTTLS\r\n")
 *   yield* plain.reader.readLine // 220 ready to start TLS
 *   const conn = yield* Tls.startTls(plain, { side: "client", ca, servername: "localhost" })
 *   yield* conn.writer.write("EHLO me\r\n")
 * }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const startTls: <A extends Address>(
  connection: Connection<A>,
  options: StartTlsOptions
) => Effect.Effect<Connection<A>, TlsError | InvalidArgument, Scope.Scope> = internal.startTls

/**
 * Failed server-side handshakes, by `reason` (a {@link HandshakeFailureReason} or `"Timeout"`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const handshakeFailures: Metric.Metric.Counter<number> = metrics.handshakeFailures
