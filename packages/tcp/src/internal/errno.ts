/**
 * What a Node error code means for each operation: the one place where `error.code` is read and
 * mapped to the `reason` of a `ResolveError`, `ConnectError`, `ListenError`, `ReadError` or
 * `WriteError`.
 *
 * @internal
 */
import { type ConnectErrorReason, type ListenErrorReason, ReadError, WriteError } from "../TcpError.js"

/** The `code` of a Node system error (`"ECONNRESET"`, …), or `undefined`. */
export const codeOf = (error: unknown): unknown =>
  typeof error === "object" && error !== null ? (error as { readonly code?: unknown }).code : undefined

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
