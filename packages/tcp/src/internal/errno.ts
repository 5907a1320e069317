/**
 * What a Node error code means for each operation: the one place where `error.code` is read and
 * mapped to the `reason` of a `ResolveError`, `ConnectError`, `ListenError`, `ReadError`,
 * `WriteError` or `TlsError`.
 *
 * @internal
 */
import { type ConnectErrorReason, type ListenErrorReason, ReadError, WriteError } from "../TcpError.js"
import type * as Tls from "../Tls.js"

/** The `code` of a Node system or OpenSSL error (`"ECONNRESET"`, `"CERT_HAS_EXPIRED"`, …), or `undefined`. */
export const codeOf = (error: unknown): string | undefined => {
  const code = typeof error === "object" && error !== null ? (error as { readonly code?: unknown }).code : undefined
  return typeof code === "string" ? code : undefined
}

/** Why one connect attempt failed. */
export const connectReason = (error: unknown): ConnectErrorReason => {
  switch (codeOf(error)) {
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "ENOENT":
      return "Refused"
    case "ETIMEDOUT":
      return "Timeout"
    case "ENETUNREACH":
    case "EHOSTUNREACH":
    case "ENETDOWN":
    case "EHOSTDOWN":
    case "EADDRNOTAVAIL":
      return "Unreachable"
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    default:
      return "Unknown"
  }
}

/** Why a name lookup (`dns.lookup`) failed. */
export const resolveReason = (error: unknown): "HostNotFound" | "Unknown" => {
  switch (codeOf(error)) {
    case "ENOTFOUND":
    case "ENODATA":
    case "EAI_NONAME":
    case "EAI_NODATA":
    case "EAI_FAIL":
      return "HostNotFound"
    default:
      return "Unknown"
  }
}

/** Why a bind or listen failed. */
export const listenReason = (error: unknown): ListenErrorReason => {
  switch (codeOf(error)) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
      return "AddressNotAvailable"
    case "ENOTFOUND":
    case "EAI_NONAME":
    case "EAI_AGAIN":
    case "EAI_FAIL":
      return "HostNotFound"
    default:
      return "Unknown"
  }
}

/** A socket error as seen by the reader. */
export const readError = (error: unknown): ReadError => {
  switch (codeOf(error)) {
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
    case "ETIMEDOUT":
      return new ReadError({ reason: "Reset", cause: error })
    default:
      return new ReadError({ reason: "Unknown", cause: error })
  }
}

/** A socket or write error as seen by the writer. */
export const writeError = (error: unknown): WriteError => {
  switch (codeOf(error)) {
    case "EPIPE":
    case "ECONNRESET":
    case "ERR_STREAM_DESTROYED":
    case "ECONNABORTED":
      return new WriteError({ reason: "ConsumerLeft", cause: error })
    case "ERR_STREAM_WRITE_AFTER_END":
      return new WriteError({ reason: "Closed", cause: error })
    default:
      return new WriteError({ reason: "Unknown", cause: error })
  }
}

/** OpenSSL's verification codes (as Node reports them) that say "not signed by anyone trusted". */
const untrusted = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_REVOKED",
  "CERT_CHAIN_TOO_LONG",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"
])

const expired = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED"
])

/** Why a TLS handshake failed, from the code of its error. */
export const handshakeReason = (code: string | undefined): Tls.HandshakeFailureReason =>
  code === undefined
    ? "HandshakeFailed"
    : code === "ERR_TLS_CERT_ALTNAME_INVALID"
    ? "HostnameMismatch"
    : expired.has(code)
    ? "CertificateExpired"
    : untrusted.has(code)
    ? "CertificateUntrusted"
    : "HandshakeFailed"
