/**
 * The typed errors of effect-tcp. Every failure is a `Data.TaggedError` with a `reason` that a
 * program can match on, the underlying `cause` (often a Node `SystemError`) and a readable
 * `message`.
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"
import * as Address from "./Address.js"

/**
 * Why a connection attempt failed. The TLS reasons (`CertificateUntrusted`, `HostnameMismatch`,
 * `CertificateExpired`, `HandshakeFailed`) come from a connect with the `tls` option; their
 * `cause` is a `TlsError` (see the `Tls` module).
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectErrorReason =
  | "Refused"
  | "Timeout"
  | "Interrupted"
  | "HostNotFound"
  | "Unreachable"
  | "AddressInUse"
  | "PermissionDenied"
  | "CertificateUntrusted"
  | "HostnameMismatch"
  | "CertificateExpired"
  | "HandshakeFailed"
  | "Unknown"

/**
 * One address that a connect tried, and why it failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectAttempt {
  readonly address: Address.Address
  readonly reason: ConnectErrorReason
  readonly cause: unknown
}

/**
 * A connection could not be established. `attempts` has one entry per address tried (a name
 * may resolve to several); `reason` is the last attempt's reason, or `Timeout` / `Interrupted`
 * when the `timeout` or the `interrupt` option fired.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly reason: ConnectErrorReason
  readonly target: string
  readonly attempts: ReadonlyArray<ConnectAttempt>
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const detail = this.attempts.length > 1
      ? ` (${this.attempts.map((a) => `${Address.format(a.address)}: ${a.reason}`).join(", ")})`
      : ""
    return `connect to ${this.target} failed: ${this.reason}${detail}${describeCause(this.cause)}`
  }
}

/**
 * Why a read failed. End of stream is not an error (reads return `Option.none()`), except for
 * `readExactly`, which reports `UnexpectedEof` with the bytes it did get in `partial`.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadErrorReason =
  | "Reset"
  | "UnexpectedEof"
  | "LineTooLong"
  | "TooLarge"
  | "Timeout"
  | "ReaderInUse"
  | "Closed"
  | "Unknown"

/**
 * The bound a read hit, named as the option that sets it: `maxLineLength` (`readLine`, `lines`),
 * `maxLength` (the option given to `readUntil`), `maxReadLength` (`readExactly`, `peek`,
 * `readAll`, `readChunks`' unconsumed bytes, and `readUntil` without `maxLength`).
 *
 * @since 0.2.0
 * @category models
 */
export type ReadLimit = "maxLineLength" | "maxLength" | "maxReadLength"

/**
 * A read failed. `LineTooLong`: no line end (or delimiter) within the bound; `TooLarge`: the read
 * would have to buffer more than `maxReadLength`. Both name the bound in `limit`, consume nothing
 * and leave the connection usable. `Timeout`: the read waited longer than `readTimeout` (what
 * had arrived stays buffered).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadError extends Data.TaggedError("ReadError")<{
  readonly reason: ReadErrorReason
  readonly cause?: unknown
  /** With `LineTooLong` and `TooLarge`: the option whose bound was hit. */
  readonly limit?: ReadLimit
  /** With `UnexpectedEof`: the bytes that arrived before the end of stream (maybe none). */
  readonly partial?: Uint8Array
}> {
  /** @since 0.1.0 */
  override get message(): string {
    switch (this.reason) {
      case "Reset":
        return `read failed: the peer reset the connection${describeCause(this.cause)}`
      case "UnexpectedEof":
        return `read failed: end of stream after ${this.partial?.length ?? 0} bytes`
      case "LineTooLong":
        return `read failed: line longer than the maximum${describeCause(this.cause)}`
      case "Timeout":
        return `read failed: timed out${describeCause(this.cause)}`
      case "TooLarge":
        return `read failed: more bytes than one read may hold${describeCause(this.cause)}`
      case "ReaderInUse":
        return "read failed: another read is already in progress on this reader"
      case "Closed":
        return "read failed: the reader is closed"
      default:
        return `read failed${describeCause(this.cause)}`
    }
  }
}

/**
 * Why a write failed.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteErrorReason = "ConsumerLeft" | "BufferAgeLimitExceeded" | "Closed" | "Unknown"

/**
 * A write or flush failed. `ConsumerLeft`: the peer went away (EPIPE, ECONNRESET);
 * `BufferAgeLimitExceeded`: bytes waited unflushed longer than `bufferAgeLimit` and the
 * connection was torn down; `Closed`: the writer was closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteError extends Data.TaggedError("WriteError")<{
  readonly reason: WriteErrorReason
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    switch (this.reason) {
      case "ConsumerLeft":
        return `write failed: the peer went away${describeCause(this.cause)}`
      case "BufferAgeLimitExceeded":
        return "write failed: bytes waited unflushed longer than the buffer age limit"
      case "Closed":
        return "write failed: the writer is closed"
      default:
        return `write failed${describeCause(this.cause)}`
    }
  }
}

/**
 * Why a listener could not be opened.
 *
 * @since 0.1.0
 * @category models
 */
export type ListenErrorReason = "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "HostNotFound" | "Unknown"

/**
 * A server could not listen where it was asked to.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly reason: ListenErrorReason
  readonly target: string
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `listen on ${this.target} failed: ${this.reason}${describeCause(this.cause)}`
  }
}

/**
 * An argument was rejected before any socket was opened: a port outside 0–65535 or not an
 * integer, an empty host, a Unix path longer than the OS allows, a non-positive size, …
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly argument: string
  readonly message: string
}> {}

/**
 * Why a TLS handshake failed.
 *
 * - `CertificateUntrusted`: the certificate does not chain to a trusted authority (or was
 *   refused by the peer's verification).
 * - `HostnameMismatch`: the certificate is not for the name (or IP address) connected to.
 * - `CertificateExpired`: the certificate is outside its validity period.
 * - `HandshakeFailed`: any other failure: protocol error, no common version or cipher, the peer
 *   refused our certificate or closed the connection during the handshake.
 *
 * @since 0.2.0
 * @category models
 */
export type HandshakeFailureReason =
  | "CertificateUntrusted"
  | "HostnameMismatch"
  | "CertificateExpired"
  | "HandshakeFailed"

/**
 * Why a TLS operation failed: a handshake failure, or for `Tls.startTls`: `Timeout` (the
 * handshake took longer than its bound), `PlaintextBuffered` (plaintext bytes were waiting in
 * the reader at the upgrade), `AlreadyTls` (the connection is TLS already) or `Closed` (the
 * connection was closed or its reader in use).
 *
 * @since 0.2.0
 * @category models
 */
export type TlsErrorReason = HandshakeFailureReason | "Timeout" | "PlaintextBuffered" | "AlreadyTls" | "Closed"

/**
 * A TLS failure. `code` is the OpenSSL or Node code (`"CERT_HAS_EXPIRED"`,
 * `"ERR_TLS_CERT_ALTNAME_INVALID"`, `"ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION"`, …) when there is
 * one; `address` is the peer's address.
 *
 * @since 0.2.0
 * @category errors
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly reason: TlsErrorReason
  readonly code?: string | undefined
  readonly address?: Address.Address | undefined
  readonly cause?: unknown
}> {
  /** @since 0.2.0 */
  override get message(): string {
    const code = this.code === undefined ? "" : ` (${this.code})`
    const cause = this.cause instanceof Error
      ? `: ${this.cause.message}`
      : typeof this.cause === "string"
      ? `: ${this.cause}`
      : ""
    return `TLS ${this.reason}${code}${cause}`
  }
}

/**
 * Why a `ServerCluster` group could not start: a worker exited before it listened
 * (`"WorkerExited"`), did not listen within `startTimeout` (`"StartTimeout"`), or failed with
 * something other than `ListenError` / `InvalidArgument` (`"WorkerFailed"`).
 *
 * @since 0.2.0
 * @category models
 */
export type ServerClusterErrorReason = "WorkerExited" | "StartTimeout" | "WorkerFailed"

/**
 * A `ServerCluster` group could not start (see {@link ServerClusterErrorReason}).
 *
 * @since 0.2.0
 * @category errors
 */
export class ServerClusterError extends Data.TaggedError("ServerClusterError")<{
  readonly reason: ServerClusterErrorReason
  readonly message: string
}> {}

/**
 * Why a frame was rejected: `"FrameTooLong"` when its length exceeds `maxFrameLength`,
 * `"InvalidLength"` when the length field plus `lengthAdjustment` is negative (on reads), or a
 * frame's length does not fit the length field (on writes).
 *
 * @since 0.2.0
 * @category models
 */
export type FrameErrorReason = "FrameTooLong" | "InvalidLength"

/**
 * A frame was rejected. `announced` is the value of the length field (what the peer announced,
 * or what a write would have announced), `length` the number of bytes after the header that it
 * means (`announced + lengthAdjustment`). On a read, nothing was consumed: the header is still in
 * the reader's buffer, and reading again fails again (close the connection).
 *
 * @since 0.2.0
 * @category errors
 */
export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: FrameErrorReason
  readonly announced: number
  readonly length: number
  readonly maxFrameLength: number
}> {
  /** @since 0.2.0 */
  override get message(): string {
    return this.reason === "FrameTooLong"
      ? `frame of ${this.length} bytes exceeds the maximum of ${this.maxFrameLength} (length field ${this.announced})`
      : `invalid frame length: length field ${this.announced} means ${this.length} bytes`
  }
}

/**
 * Any error of effect-tcp.
 *
 * @since 0.1.0
 * @category models
 */
export type TcpError = ConnectError | ReadError | WriteError | ListenError | InvalidArgument | TlsError | FrameError

const describeCause = (cause: unknown): string => {
  if (cause === undefined) return ""
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return `: ${cause.message}`
  }
  return `: ${String(cause)}`
}
