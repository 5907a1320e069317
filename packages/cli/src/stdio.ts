/**
 * Byte sources and sinks for the command line: a pull-based reader over any Node `Readable`
 * (standard input, a file) and a writer to a Node `Writable` (standard output) that waits for
 * the OS to take each chunk.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Readable, Writable } from "node:stream"

/**
 * Reading a local input (standard input or a file) failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InputError extends Data.TaggedError("InputError")<{
  readonly what: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot read ${this.what}: ${errorText(this.cause)}`
  }
}

/**
 * Writing a local output (standard output) failed for another reason than its reader leaving.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputError extends Data.TaggedError("OutputError")<{
  readonly what: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot write ${this.what}: ${errorText(this.cause)}`
  }
}

/** @internal */
export const errorText = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
    ? cause.message
    : String(cause)

/**
 * A pull-based reader over a Node `Readable`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  /**
   * The next chunk, `none` at end of input. Interrupting a pull takes nothing from the stream:
   * a chunk is only removed from Node's buffer when it is returned.
   */
  readonly pull: Effect.Effect<Option.Option<Uint8Array>, InputError>
}

/**
 * Wraps a `Readable` (left in paused mode) as an `Input`. Nothing is read from it until the
 * first pull, so a program that never needs its standard input never consumes it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromReadable = (stream: Readable, what: string): Input => {
  let ended = false
  let failure: unknown = undefined
  let attached = false
  const attach = () => {
    if (attached) return
    attached = true
    stream.on("end", () => {
      ended = true
    })
    stream.on("error", (error) => {
      failure = error
    })
  }
  const attempt = (): Option.Option<Option.Option<Uint8Array>> | InputError => {
    if (failure !== undefined) return new InputError({ what, cause: failure })
    const chunk = stream.read() as Buffer | string | null
    if (chunk !== null) return Option.some(Option.some(typeof chunk === "string" ? Buffer.from(chunk) : chunk))
    if (ended || stream.readableEnded || stream.destroyed) return Option.some(Option.none())
    return Option.none()
  }
  const pull = Effect.async<Option.Option<Uint8Array>, InputError>((resume) => {
    attach()
    const settle = (): boolean => {
      const result = attempt()
      if (result instanceof InputError) {
        resume(Effect.fail(result))
        return true
      }
      if (Option.isSome(result)) {
        resume(Effect.succeed(result.value))
        return true
      }
      return false
    }
    if (settle()) return
    const onEvent = () => {
      if (settle()) cleanup()
    }
    const cleanup = () => {
      stream.off("readable", onEvent)
      stream.off("end", onEvent)
      stream.off("error", onEvent)
      stream.off("close", onEvent)
    }
    stream.on("readable", onEvent)
    stream.on("end", onEvent)
    stream.on("error", onEvent)
    stream.on("close", onEvent)
    return Effect.sync(cleanup)
  })
  return { pull }
}

/**
 * What happened to a write to an `Output`: written, or its reader has gone (EPIPE), which a
 * netcat treats as a normal end rather than an error.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteOutcome = "Written" | "Closed"

/**
 * A writer to a Node `Writable` that completes each write when the stream has taken it (so a
 * slow consumer slows the socket down instead of growing memory).
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  readonly write: (chunk: Uint8Array) => Effect.Effect<WriteOutcome, OutputError>
  /** Completes when everything written has been handed to the OS. */
  readonly flush: Effect.Effect<void>
}

const isBrokenPipe = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ECONNRESET"
}

/**
 * Wraps a `Writable` (standard output) as an `Output`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromWritable = (stream: Writable, what: string): Output => {
  let closed = false
  // Without a listener an EPIPE on standard output would be an uncaught exception.
  stream.on("error", (error) => {
    if (isBrokenPipe(error)) closed = true
  })
  const write = (chunk: Uint8Array) =>
    Effect.async<WriteOutcome, OutputError>((resume) => {
      if (closed || stream.destroyed || stream.writableEnded) {
        resume(Effect.succeed("Closed"))
        return
      }
      stream.write(chunk, (error) => {
        if (error === undefined || error === null) resume(Effect.succeed("Written"))
        else if (isBrokenPipe(error)) {
          closed = true
          resume(Effect.succeed("Closed"))
        } else resume(Effect.fail(new OutputError({ what, cause: error })))
      })
    })
  const flush = Effect.async<void>((resume) => {
    if (closed || stream.destroyed || stream.writableEnded) return resume(Effect.void)
    stream.write(new Uint8Array(0), () => resume(Effect.void))
  })
  return { write, flush }
}
