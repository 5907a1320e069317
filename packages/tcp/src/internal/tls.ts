/**
 * TLS: every use of `node:tls`. Client handshakes over a connected socket (the TLS part of
 * `Tcp.connect`), server handshakes handed to a hidden `tls.Server` (which verifies client
 * certificates and picks the SNI certificate), STARTTLS upgrades, and what a TLS connection
 * negotiated.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import * as Address from "../Address.js"
import type * as Connection from "../Connection.js"
import type * as Tcp from "../Tcp.js"
import { ConnectError, type ConnectErrorReason, type InvalidArgument, TlsError, WriteError } from "../TcpError.js"
import type * as Tls from "../Tls.js"
import type * as WhereToConnect from "../WhereToConnect.js"
import { attach, closeSocket, lingerKey, makeTcpSocket, upgradeStart } from "./connection.js"
import * as defaults from "./defaults.js"
import { codeOf, handshakeReason } from "./errno.js"
import * as metrics from "./metrics.js"
import { raceInterrupt, readerConfig, writerConfig } from "./options.js"
import { type ReaderConfig, ReaderImpl } from "./reader.js"
import { recordsSpansIn } from "./tracing.js"
import { checkBoolean, checkDuration, invalidArgument, maxTimerMillis, validate } from "./validate.js"
import { type WriterConfig, WriterImpl } from "./writer.js"

// -------------------------------------------------------------------------------------------------
// Failures

/**
 * The failure without what Node attaches to it (the peer certificate, whose issuer chain of a
 * self-signed certificate refers to itself): an error must stay printable and serialisable.
 */
const plainError = (error: unknown): unknown => {
  if (!(error instanceof Error)) return error
  const code = codeOf(error)
  const plain = new Error(error.message)
  plain.name = error.name
  if (error.stack !== undefined) plain.stack = error.stack
  return code === undefined ? plain : Object.assign(plain, { code })
}

const tlsError = (error: unknown, address: Address.Address | undefined): TlsError => {
  const code = codeOf(error)
  return new TlsError({ reason: handshakeReason(code), code, address, cause: plainError(error) })
}

// -------------------------------------------------------------------------------------------------
// Validation

const isPemPart = (value: unknown): value is string | Uint8Array =>
  typeof value === "string" || value instanceof Uint8Array

const checkPem = (argument: string, value: unknown): string | Buffer | Array<string | Buffer> | undefined => {
  if (value === undefined) return undefined
  const one = (part: unknown, at: string): string | Buffer => {
    if (!isPemPart(part) || part.length === 0) {
      return invalidArgument(at, "expected PEM text or DER bytes (a non-empty string or Uint8Array)")
    }
    // OpenSSL skips text that holds no PEM block: a mistake that would silently trust nothing.
    if (typeof part === "string" && !part.includes("-----BEGIN ")) {
      return invalidArgument(at, "expected PEM text")
    }
    return typeof part === "string" ? part : Buffer.from(part.buffer, part.byteOffset, part.byteLength)
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return invalidArgument(argument, "expected at least one certificate")
    return value.map((part, i) => one(part, `${argument}[${i}]`))
  }
  return one(value, argument)
}

const checkString = (argument: string, value: unknown): string | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "string") return invalidArgument(argument, `expected a string, got ${typeof value}`)
  return value
}

const checkAlpn = (argument: string, value: unknown): Array<string> | undefined => {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0) {
    return invalidArgument(argument, "expected a non-empty array of protocol names")
  }
  return value.map((name, i) => {
    if (typeof name !== "string" || name === "" || Buffer.byteLength(name) > 255) {
      return invalidArgument(`${argument}[${i}]`, "expected a protocol name of 1 to 255 bytes")
    }
    return name
  })
}

const checkVersion = (argument: string, value: unknown): tls.SecureVersion => {
  if (value === undefined) return "TLSv1.2"
  if (value !== "TLSv1.2" && value !== "TLSv1.3") {
    return invalidArgument(argument, `expected "TLSv1.2" or "TLSv1.3", got ${String(value)}`)
  }
  return value
}

const checkServername = (argument: string, value: unknown): string | undefined => {
  const name = checkString(argument, value)
  if (name === undefined) return undefined
  if (name === "" || name.includes("\0")) return invalidArgument(argument, "expected a non-empty host name")
  if (net.isIP(name) !== 0) {
    return invalidArgument(argument, "an IP address is not a server name (SNI); leave servername out")
  }
  return name
}

const checkObject = (argument: string, value: unknown): void => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalidArgument(argument, "expected an options object")
  }
}

/** `tls.createSecureContext`, its exception (bad PEM, wrong passphrase, …) as `InvalidArgument`. */
const secureContext = (argument: string, contextOptions: tls.SecureContextOptions): tls.SecureContext => {
  try {
    return tls.createSecureContext(contextOptions)
  } catch (error) {
    return invalidArgument(argument, error instanceof Error ? error.message : String(error))
  }
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Trust anchors are parsed here: OpenSSL skips a CA it cannot read, which would trust nothing silently. */
const checkCa = (argument: string, value: unknown): string | Buffer | Array<string | Buffer> | undefined => {
  const ca = checkPem(argument, value)
  if (ca === undefined) return undefined
  const parts = Array.isArray(ca) ? ca : [ca]
  parts.forEach((part, i) => {
    const at = Array.isArray(ca) ? `${argument}[${i}]` : argument
    const blocks = typeof part === "string" ? part.match(pemCertificate) ?? [] : [part]
    if (blocks.length === 0) invalidArgument(at, "expected PEM certificates (-----BEGIN CERTIFICATE-----)")
    for (const block of blocks) {
      try {
        new crypto.X509Certificate(block)
      } catch (error) {
        invalidArgument(
          at,
          `not a readable certificate: ${error instanceof Error ? error.message : String(error)}`
        )
      }
    }
  })
  return ca
}

/** A validated client `tls` option. */
interface ClientConfig {
  readonly context: tls.SecureContext
  readonly servername: string | undefined
  readonly alpn: Array<string> | undefined
  readonly rejectUnauthorized: boolean
}

/** Validated options, kept per options object: a connect loop pays for the secure context once. */
const clientConfigs = new WeakMap<object, ClientConfig>()

/** @internal */
export const clientConfig = (input: unknown, argument = "tls"): ClientConfig => {
  checkObject(argument, input)
  const cached = clientConfigs.get(input as object)
  if (cached !== undefined) return cached
  const o = input as Tls.ClientOptions
  const ca = checkCa(`${argument}.ca`, o.ca)
  const cert = checkPem(`${argument}.cert`, o.cert)
  const key = checkPem(`${argument}.key`, o.key)
  const pfx = checkPem(`${argument}.pfx`, o.pfx)
  if (Array.isArray(pfx)) invalidArgument(`${argument}.pfx`, "expected one PKCS#12 bundle")
  const passphrase = checkString(`${argument}.passphrase`, o.passphrase)
  if ((cert === undefined) !== (key === undefined)) {
    invalidArgument(`${argument}.cert`, "a client certificate needs both cert and key")
  }
  const config: ClientConfig = {
    context: secureContext(argument, {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(pfx !== undefined ? { pfx: pfx as string | Buffer } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
      minVersion: checkVersion(`${argument}.minVersion`, o.minVersion)
    }),
    servername: checkServername(`${argument}.servername`, o.servername),
    alpn: checkAlpn(`${argument}.alpnProtocols`, o.alpnProtocols),
    rejectUnauthorized: checkBoolean(`${argument}.rejectUnauthorized`, o.rejectUnauthorized, true)
  }
  clientConfigs.set(input as object, config)
  return config
}

/** A validated server `tls` option: the hidden `tls.Server` that does the handshakes. */
export interface TlsServerConfig {
  readonly server: tls.Server
  readonly handshakeTimeout: number
}

const serverConfigs = new WeakMap<object, TlsServerConfig>()

/** @internal */
export const serverConfig = (input: unknown, argument = "tls"): TlsServerConfig => {
  checkObject(argument, input)
  const cached = serverConfigs.get(input as object)
  if (cached !== undefined) return cached
  const o = input as Tls.ServerOptions
  if (!Array.isArray(o.certificates) || o.certificates.length === 0) {
    invalidArgument(`${argument}.certificates`, "expected at least one { cert, key }")
  }
  const certificates = o.certificates.map((c, i) => {
    const at = `${argument}.certificates[${i}]`
    checkObject(at, c)
    const servernames = c.servernames === undefined ? [] : c.servernames
    if (!Array.isArray(servernames)) invalidArgument(`${at}.servernames`, "expected an array of host names")
    servernames.forEach((name, j) => checkServername(`${at}.servernames[${j}]`, name))
    const passphrase = checkString(`${at}.passphrase`, c.passphrase)
    const contextOptions: tls.SecureContextOptions = {
      cert: checkPem(`${at}.cert`, c.cert) ?? invalidArgument(`${at}.cert`, "expected a certificate"),
      key: checkPem(`${at}.key`, c.key) ?? invalidArgument(`${at}.key`, "expected a private key"),
      ...(passphrase !== undefined ? { passphrase } : {})
    }
    secureContext(at, contextOptions)
    return { contextOptions, servernames }
  })
  const ca = checkCa(`${argument}.ca`, o.ca)
  const requestCert = checkBoolean(`${argument}.requestCert`, o.requestCert, false)
  const rejectUnauthorized = checkBoolean(`${argument}.rejectUnauthorized`, o.rejectUnauthorized, true)
  const alpn = checkAlpn(`${argument}.alpnProtocols`, o.alpnProtocols)
  const minVersion = checkVersion(`${argument}.minVersion`, o.minVersion)
  const handshakeTimeout = Math.max(
    1,
    Math.min(
      checkDuration(`${argument}.handshakeTimeout`, o.handshakeTimeout, defaultHandshakeTimeout),
      maxTimerMillis
    )
  )
  let server: tls.Server
  try {
    server = tls.createServer({
      ...certificates[0]!.contextOptions,
      ...(ca !== undefined ? { ca } : {}),
      requestCert,
      rejectUnauthorized,
      ...(alpn !== undefined ? { ALPNProtocols: alpn } : {}),
      minVersion,
      allowHalfOpen: true,
      // Bounded by `handshakeTimeout` here, from the start of each handshake (Node's is an idle timer).
      handshakeTimeout: 0
    })
    for (const { contextOptions, servernames } of certificates) {
      for (const name of servernames) {
        server.addContext(name, { ...contextOptions, ...(ca !== undefined ? { ca } : {}), minVersion })
      }
    }
  } catch (error) {
    return invalidArgument(argument, error instanceof Error ? error.message : String(error))
  }
  server.on("secureConnection", onSecureConnection)
  server.on("tlsClientError", onTlsClientError)
  const config: TlsServerConfig = { server, handshakeTimeout }
  serverConfigs.set(input as object, config)
  return config
}

const defaultHandshakeTimeout = defaults.connectTimeout

// -------------------------------------------------------------------------------------------------
// Server-side handshakes

/** What a server-side handshake in progress waits for, kept on the raw socket. */
const pendingKey: unique symbol = Symbol("effect-tcp/tls/pending")

interface Pending {
  readonly done: (secure: tls.TLSSocket | undefined, error: unknown, tlsSocket: tls.TLSSocket | undefined) => void
}

type PendingSocket = net.Socket & { [pendingKey]?: Pending | undefined }

/** The parent (raw) socket of a TLS socket made by the hidden server. */
const parentOf = (secure: tls.TLSSocket): PendingSocket | undefined =>
  (secure as unknown as { _parent?: PendingSocket })._parent

function onSecureConnection(secure: tls.TLSSocket): void {
  parentOf(secure)?.[pendingKey]?.done(secure, undefined, secure)
}

function onTlsClientError(error: Error, secure: tls.TLSSocket): void {
  // A client certificate that fails verification is reported as ECONNRESET (Node destroys the
  // socket first); the verification code is on the socket.
  const verify = (secure as { authorizationError?: unknown }).authorizationError
  const cause = typeof verify === "string" || verify instanceof Error
    ? Object.assign(new Error(`client certificate refused: ${String(verify)}`), { code: codeOf(verify) ?? verify })
    : error
  parentOf(secure)?.[pendingKey]?.done(undefined, cause, secure)
}

/**
 * Runs the server side of a handshake on an accepted (or plaintext) socket, through the hidden
 * server, bounded by `timeoutMillis`: calls `onSecure` with the TLS socket, or `onFailure` with
 * the error after destroying the socket. No fiber: this is the per-connection path.
 */
export const acceptHandshake = (
  raw: net.Socket,
  config: TlsServerConfig,
  timeoutMillis: number,
  onSecure: (secure: tls.TLSSocket) => void,
  onFailure: (error: TlsError) => void,
  address?: Address.Address
): void => {
  const socket = raw as PendingSocket
  let settled = false
  const timer = setTimeout(() => {
    finish(
      undefined,
      Object.assign(new Error(`no TLS handshake within ${timeoutMillis} ms`), { code: "ETIMEDOUT" }),
      undefined
    )
  }, timeoutMillis)
  const finish = (secure: tls.TLSSocket | undefined, error: unknown, tlsSocket: tls.TLSSocket | undefined): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    socket[pendingKey] = undefined
    socket.off("close", closedEarly)
    if (secure !== undefined) {
      secure.on("error", constVoid)
      secure.allowHalfOpen = halfOpen
      return onSecure(secure)
    }
    tlsSocket?.on("error", constVoid)
    tlsSocket?.destroy()
    socket.destroy()
    const timedOut = codeOf(error) === "ETIMEDOUT" && error instanceof Error && error.message.startsWith("no TLS")
    onFailure(
      timedOut
        ? new TlsError({ reason: "Timeout", code: "ETIMEDOUT", address, cause: error })
        : tlsError(error, address)
    )
  }
  // Deferred a turn: when Node closes the socket itself (a refused client certificate),
  // 'tlsClientError' with the reason comes after the socket's 'close'.
  const closedEarly = () => setImmediate(closedEarlyNow)
  const closedEarlyNow = () =>
    finish(
      undefined,
      Object.assign(new Error("the peer closed the connection during the TLS handshake"), { code: "ECONNRESET" }),
      undefined
    )
  socket[pendingKey] = { done: finish }
  // Not half-open during the handshake: a client that sends FIN then is gone, not waiting.
  const halfOpen = socket.allowHalfOpen
  socket.allowHalfOpen = false
  socket.once("close", closedEarly)
  socket.on("error", constVoid)
  config.server.emit("connection", socket)
}

/**
 * The server's side of its `tls` option: runs each accepted socket's handshake, counts and
 * reports the failures, and aborts the handshakes in progress when the server closes.
 */
export class TlsAcceptor {
  private readonly pending = new Set<net.Socket>()
  private closed = false

  constructor(private readonly config: TlsServerConfig) {}

  /**
   * Handshakes `raw`: `onSecure` with the TLS socket, or `onFailure` once the socket is destroyed
   * (a failure is counted in the metric by reason first; an abort by `close` is not).
   */
  accept(
    raw: net.Socket,
    address: Address.Address,
    onSecure: (secure: tls.TLSSocket) => void,
    onFailure: (error: TlsError | undefined) => void
  ): void {
    if (this.closed) {
      raw.destroy()
      return onFailure(undefined)
    }
    this.pending.add(raw)
    acceptHandshake(raw, this.config, this.config.handshakeTimeout, (secure) => {
      this.pending.delete(raw)
      onSecure(secure)
    }, (error) => {
      this.pending.delete(raw)
      if (this.closed) return onFailure(undefined)
      metrics.handshakeFailed(error.reason)
      onFailure(error)
    }, address)
  }

  /** The server closed: no handshake in progress will get a handler; abort them. */
  close(): void {
    this.closed = true
    for (const socket of this.pending) socket.destroy()
  }
}

// -------------------------------------------------------------------------------------------------
// Client-side handshakes

/** Where the client side checks the certificate: the SNI name and the name or IP checked. */
const identity = (
  where: WhereToConnect.Target,
  cfg: ClientConfig
): { readonly servername: string | undefined; readonly host: string } => {
  if (cfg.servername !== undefined) return { servername: cfg.servername, host: cfg.servername }
  const host = where._tag === "HostAndPort"
    ? where.host.startsWith("[") && where.host.endsWith("]") ? where.host.slice(1, -1) : where.host
    : where._tag === "InetAddress"
    ? where.address.host
    : "localhost"
  return { servername: net.isIP(host) === 0 ? host : undefined, host }
}

/**
 * Runs the client side of a handshake over a connected socket, bounded by `timeoutMillis`.
 * Interrupted, it destroys the socket and waits until the descriptor is closed; failed, likewise
 * before it fails.
 */
const connectHandshake = (
  raw: net.Socket,
  cfg: ClientConfig,
  id: { readonly servername: string | undefined; readonly host: string },
  timeoutMillis: number,
  onFailure: (error: TlsError | "Timeout") => ConnectError | TlsError,
  address: Address.Address | undefined
): Effect.Effect<tls.TLSSocket, ConnectError | TlsError> =>
  Effect.async<tls.TLSSocket, ConnectError | TlsError>((resume) => {
    let settled = false
    let secure: tls.TLSSocket | undefined
    const giveUp = (failure: ConnectError | TlsError) => {
      settled = true
      clearTimeout(timer)
      secure?.destroy()
      raw.destroy()
      resume(Effect.zipRight(waitClosed(raw, secure), Effect.fail(failure)))
    }
    const timer = setTimeout(() => {
      if (!settled) giveUp(onFailure("Timeout"))
    }, Math.min(Math.max(0, timeoutMillis), maxTimerMillis))
    try {
      secure = tls.connect({
        socket: raw,
        secureContext: cfg.context,
        host: id.host,
        ...(id.servername !== undefined ? { servername: id.servername } : {}),
        ...(cfg.alpn !== undefined ? { ALPNProtocols: cfg.alpn } : {}),
        rejectUnauthorized: cfg.rejectUnauthorized
      })
    } catch (error) {
      giveUp(onFailure(tlsError(error, address)))
      return
    }
    const tlsSocket = secure
    tlsSocket.on("error", (error) => {
      if (!settled) giveUp(onFailure(tlsError(error, address)))
    })
    tlsSocket.once("close", () => {
      if (!settled) {
        giveUp(onFailure(tlsError(
          Object.assign(new Error("the peer closed the connection during the TLS handshake"), { code: "ECONNRESET" }),
          address
        )))
      }
    })
    tlsSocket.once("secureConnect", () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (tlsSocket.getProtocol() === "TLSv1.3") (tlsSocket as { [lingerKey]?: boolean })[lingerKey] = true
      resume(Effect.succeed(tlsSocket))
    })
    return Effect.suspend(() => {
      if (settled) return Effect.void
      settled = true
      clearTimeout(timer)
      tlsSocket.destroy()
      raw.destroy()
      return waitClosed(raw, tlsSocket)
    })
  })

const waitClosed = (raw: net.Socket, secure: tls.TLSSocket | undefined): Effect.Effect<void> =>
  secure === undefined ? closeSocket(raw) : Effect.zipRight(closeSocket(secure), closeSocket(raw))

/** A TLS socket as a `TcpSocket`: socket options and `reset` act on the TCP socket underneath. */
const tlsTcpSocket = <A extends Address.Address>(
  plain: Connection.TcpSocket<A>,
  secure: tls.TLSSocket
): Connection.TcpSocket<A> => makeTcpSocket(secure, plain.localAddress, plain.remoteAddress)

type ConnectSock = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts?: Tcp.ConnectOptions
) => Effect.Effect<Connection.TcpSocket<A>, ConnectError | InvalidArgument, Scope.Scope>

/**
 * `Tcp.connect` with a `tls` option: the TCP connect (`connectSock`, without `interrupt`), then
 * the handshake in what is left of `timeout`, both raced against `interrupt`; then the reader
 * and writer, attached to the TLS socket.
 */
export const connect = <A extends Address.Address>(
  where: WhereToConnect.WhereToConnect<A>,
  opts: Tcp.ConnectOptions,
  connectSock: ConnectSock
): Effect.Effect<Connection.Connection<A>, ConnectError | InvalidArgument, Scope.Scope> =>
  Effect.flatMap(
    validate(() => ({
      tls: clientConfig(opts.tls),
      timeout: checkDuration("timeout", opts.timeout, defaults.connectTimeout),
      reader: readerConfig(opts),
      writer: writerConfig(opts)
    })),
    (cfg) => {
      const target = describe(where)
      const id = identity(where, cfg.tls)
      const started = Date.now()
      const connecting = Effect.flatMap(
        connectSock(where, { ...opts, tls: undefined, interrupt: undefined }),
        (plain) => {
          const address = plain.remoteAddress
          const failure = (error: TlsError | "Timeout"): ConnectError =>
            error === "Timeout"
              ? new ConnectError({
                reason: "Timeout",
                target,
                attempts: [],
                cause: `no TLS handshake within ${cfg.timeout} ms`
              })
              : new ConnectError({
                reason: error.reason as ConnectErrorReason,
                target,
                attempts: [{ address, reason: error.reason as ConnectErrorReason, cause: error }],
                cause: error
              })
          const handshake = Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(
              restore(
                connectHandshake(
                  plain.raw,
                  cfg.tls,
                  id,
                  cfg.timeout - (Date.now() - started),
                  failure,
                  address
                ) as Effect.Effect<
                  tls.TLSSocket,
                  ConnectError
                >
              ),
              (secure) => Effect.as(Effect.addFinalizer(() => closeSocket(secure)), tlsTcpSocket(plain, secure))
            )
          ).pipe(Effect.tapError((error) => Effect.sync(() => metrics.connectFailed(error.reason))))
          // A span only when a tracer records it (as for connects and served connections).
          return Effect.withFiberRuntime<Connection.TcpSocket<A>, ConnectError, Scope.Scope>((fiber) =>
            recordsSpansIn(fiber)
              ? Effect.withSpan(handshake, "effect-tcp.tls.handshake", {
                kind: "client",
                captureStackTrace: false,
                attributes: { "effect-tcp.remote": Address.format(address) }
              })
              : handshake
          )
        }
      )
      const interrupt = opts.interrupt
      const raced = raceInterrupt(
        connecting,
        interrupt,
        () => new ConnectError({ reason: "Interrupted", target, attempts: [], cause: "the interrupt option fired" })
      )
      return Effect.flatMap(raced, (socket) => attach(socket, cfg.reader, cfg.writer, "client"))
    }
  )

const describe = (where: WhereToConnect.Target): string => String(where)

// -------------------------------------------------------------------------------------------------
// What a TLS connection negotiated

const fields = (input: unknown): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  if (typeof input === "object" && input !== null) {
    for (const [k, v] of Object.entries(input)) out[k] = Array.isArray(v) ? v.join(", ") : String(v)
  }
  return out
}

const peerCertificate = (secure: tls.TLSSocket): Option.Option<Tls.PeerCertificate> => {
  const cert = secure.getPeerCertificate()
  if (cert === null || typeof cert !== "object" || cert.raw === undefined) return Option.none()
  return Option.some({
    subject: fields(cert.subject),
    issuer: fields(cert.issuer),
    validFrom: new Date(cert.valid_from),
    validTo: new Date(cert.valid_to),
    subjectAltNames: cert.subjectaltname === undefined || cert.subjectaltname === ""
      ? []
      : cert.subjectaltname.split(", "),
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    raw: new Uint8Array(cert.raw)
  })
}

/** @internal */
export const isTls = <A extends Address.Address>(connection: Connection.Connection<A>): boolean =>
  connection.socket.raw instanceof tls.TLSSocket

/** @internal */
export const info = <A extends Address.Address>(connection: Connection.Connection<A>): Option.Option<Tls.TlsInfo> => {
  const secure = connection.socket.raw
  if (!(secure instanceof tls.TLSSocket)) return Option.none()
  const alpn = secure.alpnProtocol
  const servername = (secure as { servername?: unknown }).servername
  return Option.some({
    protocol: secure.getProtocol() ?? "unknown",
    cipher: secure.getCipher()?.standardName ?? "unknown",
    alpnProtocol: typeof alpn === "string" ? Option.some(alpn) : Option.none(),
    peerCertificate: peerCertificate(secure),
    authorized: secure.authorized,
    servername: typeof servername === "string" && servername !== "" ? Option.some(servername) : Option.none()
  })
}

// -------------------------------------------------------------------------------------------------
// STARTTLS

const upgradedWrite = new WriteError({ reason: "Closed", cause: "the connection was upgraded to TLS" })

interface StartTlsConfig {
  readonly side: "client" | "server"
  readonly client: ClientConfig | undefined
  readonly server: TlsServerConfig | undefined
  readonly discard: boolean
  readonly timeout: number
}

const startTlsConfig = (input: unknown): StartTlsConfig => {
  checkObject("options", input)
  const o = input as Tls.StartTlsOptions
  const side: unknown = o.side
  if (side !== "client" && side !== "server") {
    return invalidArgument("options.side", `expected "client" or "server", got ${String(side)}`)
  }
  const buffered: unknown = o.buffered
  if (buffered !== undefined && buffered !== "fail" && buffered !== "discard") {
    invalidArgument("options.buffered", `expected "fail" or "discard", got ${String(buffered)}`)
  }
  const server = side === "server" ? serverConfig(input, "options") : undefined
  const timeout = o.timeout === undefined
    ? server?.handshakeTimeout ?? Duration.toMillis(defaultHandshakeTimeout)
    : checkDuration("options.timeout", o.timeout, defaultHandshakeTimeout)
  return {
    side,
    client: side === "client" ? clientConfig(input, "options") : undefined,
    server,
    discard: buffered === "discard",
    timeout: Math.max(1, Math.min(timeout, maxTimerMillis))
  }
}

/** The server side of a handshake as an effect: interrupted, it destroys the socket and waits for its close. */
const serverHandshake = (
  raw: net.Socket,
  config: TlsServerConfig,
  timeoutMillis: number,
  address: Address.Address
): Effect.Effect<tls.TLSSocket, TlsError> =>
  Effect.async<tls.TLSSocket, TlsError>((resume) => {
    let settled = false
    acceptHandshake(raw, config, timeoutMillis, (secure) => {
      settled = true
      resume(Effect.succeed(secure))
    }, (error) => {
      settled = true
      resume(Effect.zipRight(closeSocket(raw), Effect.fail(error)))
    }, address)
    return Effect.suspend(() => {
      if (settled) return Effect.void
      raw.destroy()
      return closeSocket(raw)
    })
  })

/**
 * STARTTLS. Everything up to the handshake happens synchronously after the writer's flush, so
 * that no plaintext chunk can slip between counting what is buffered and handing the socket to
 * TLS (after that, bytes go to TLS and a plaintext one fails the handshake).
 *
 * @internal
 */
export const startTls = <A extends Address.Address>(
  connection: Connection.Connection<A>,
  opts: Tls.StartTlsOptions
): Effect.Effect<Connection.Connection<A>, TlsError | InvalidArgument, Scope.Scope> =>
  Effect.flatMap(validate(() => startTlsConfig(opts)), (cfg) =>
    Effect.suspend(() => {
      const raw = connection.socket.raw
      const address = connection.socket.remoteAddress
      if (raw instanceof tls.TLSSocket) return Effect.fail(new TlsError({ reason: "AlreadyTls", address }))
      const reader = connection.reader
      const writer = connection.writer
      if (!(reader instanceof ReaderImpl) || !(writer instanceof WriterImpl)) {
        return Effect.fail(new TlsError({ reason: "Closed", address, cause: "not a connection made by effect-tcp" }))
      }
      const closed = (cause: unknown) => new TlsError({ reason: "Closed", address, cause })
      const readerOptions = (reader as unknown as { readonly config: ReaderConfig }).config
      const writerOptions = (writer as unknown as { readonly config: WriterConfig }).config
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.mapError(restore(writer.flushed), closed), () => {
          if (raw.destroyed) return Effect.fail(closed("the socket is closed"))
          const plaintext = Effect.runSync(reader.bytesBuffered) + raw.readableLength
          const upgrade = upgradeStart(connection)
          reader.close()
          writer.fail(upgradedWrite)
          if (plaintext > 0 && !cfg.discard) {
            raw.destroy()
            return Effect.zipRight(
              closeSocket(raw),
              Effect.fail(
                new TlsError({
                  reason: "PlaintextBuffered",
                  address,
                  cause: `${plaintext} bytes of plaintext arrived after the upgrade command, before the handshake`
                })
              )
            )
          }
          // Node's own buffer of plaintext, if the socket was paused: read and dropped.
          if (raw.readableLength > 0) raw.read()
          const handshake = cfg.side === "client"
            ? connectHandshake(
              raw,
              cfg.client!,
              startTlsIdentity(address, cfg.client!),
              cfg.timeout,
              (error) =>
                error === "Timeout"
                  ? new TlsError({ reason: "Timeout", address, cause: `no TLS handshake within ${cfg.timeout} ms` })
                  : error,
              address
            )
            : serverHandshake(raw, cfg.server!, cfg.timeout, address)
          return Effect.flatMap(
            restore(handshake),
            (secure) =>
              Effect.flatMap(
                Effect.addFinalizer(() => closeSocket(secure)),
                () =>
                  attach(
                    tlsTcpSocket(connection.socket, secure),
                    readerOptions,
                    writerOptions,
                    cfg.side,
                    upgrade
                  )
              )
          )
        })
      ) as Effect.Effect<Connection.Connection<A>, TlsError, Scope.Scope>
    }))

/** The name a STARTTLS client checks: `servername`, else the peer's IP address (no SNI), else localhost. */
const startTlsIdentity = (
  address: Address.Address,
  cfg: ClientConfig
): { readonly servername: string | undefined; readonly host: string } =>
  cfg.servername !== undefined
    ? { servername: cfg.servername, host: cfg.servername }
    : address._tag === "Inet" && net.isIP(address.host) !== 0
    ? { servername: undefined, host: address.host }
    : { servername: undefined, host: "localhost" }
