/**
 * The buffered reader behind every connection.
 *
 * Bytes arrive from the socket as chunks (`push`), are kept in a list of chunks without copying,
 * and are consumed from the front by the read operations. Every operation first tries to
 * complete synchronously from what is buffered (no fiber, promise or queue entry on that path);
 * only when it needs more bytes does it suspend, and it consumes nothing until it completes, so
 * an interrupted read loses no byte.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import type * as Scheduler from "effect/Scheduler"
import * as Stream from "effect/Stream"
import type * as Reader from "../Reader.js"
import type { ReadLimit } from "../TcpError.js"
import { InvalidArgument, ReadError } from "../TcpError.js"
import { show } from "./validate.js"

/** `Reader.TypeId`. */
export const TypeId: Reader.TypeId = Symbol.for("effect-tcp/Reader") as Reader.TypeId

/** What `gatherLines` answers at the end of the lines. */
const Ended: unique symbol = Symbol.for("effect-tcp/Reader/Ended")

/** What a synchronous attempt answers when the buffer cannot complete the read yet. */
const NeedMore: unique symbol = Symbol.for("effect-tcp/Reader/NeedMore")
type Attempt<A, E = ReadError> = Exit.Exit<A, E> | typeof NeedMore

const LF = 0x0a
const CR = 0x0d
const EMPTY = Buffer.alloc(0)

const invalidConsumed = (tag: string, n: unknown, length: number): Exit.Exit<never, InvalidArgument> =>
  Exit.fail(
    new InvalidArgument({
      argument: "handle",
      message: `handle: ${tag}(n) needs an integer n from 0 to the chunk's ${length} bytes, got ${show(n)}`
    })
  )

const readerInUse = new ReadError({ reason: "ReaderInUse" })
const readerClosed = new ReadError({ reason: "Closed" })
const noneExit = Exit.succeed(Option.none())
const eofResult: Reader.ReadUntilResult = { _tag: "Eof" }
const eofChunks: Reader.ChunksEnd<never> = { _tag: "Eof" }
const emptyChunk: Chunk.Chunk<never> = Chunk.empty()
const emptyChunkExit = Exit.succeed(emptyChunk)

/** Node's Buffer has a direct UTF-8 decoder that skips `toString`'s argument handling. */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** How the reader asks its source (the socket) to stop and restart delivering chunks. */
export interface ReaderSource {
  readonly pause: () => void
  readonly resume: () => void
}

/**
 * The scheduler of a server's connection fibers: the runtime's own, except that a read waiting
 * for input is resumed inside the socket's callback that delivered it (`resumeNow`), instead of
 * one more task on the runtime's scheduler (a microtask and a queue per wake-up). Resuming a
 * fiber is a task the fiber hands to its scheduler; this one runs that one task at once.
 */
export class HandOffScheduler implements Scheduler.Scheduler {
  private armed = false
  constructor(private readonly underlying: Scheduler.Scheduler) {}

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (this.armed) {
      this.armed = false
      task()
    } else {
      this.underlying.scheduleTask(task, priority, fiber as never)
    }
  }

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return this.underlying.shouldYield(fiber)
  }

  /**
   * Calls `resume` (an `Effect.async` callback) so that the fiber runs now, from the caller's
   * stack, when it uses this scheduler; otherwise `resume` schedules it as usual.
   */
  resumeNow(resume: (effect: Effect.Effect<any, any>) => void, effect: Effect.Effect<any, any>): void {
    this.armed = true
    try {
      resume(effect)
    } finally {
      this.armed = false
    }
  }
}

/** A read's `readTimeout` expired (shared: no closure per reader). */
const readTimedOut = (reader: ReaderImpl): void => reader.timedOutNow()

/** Options of the reader that have been validated already. */
export interface ReaderConfig {
  readonly bufferSize: number
  readonly maxLineLength: number
  /** The most bytes one read may need buffered (readExactly, peek, readAll, readUntil's default). */
  readonly maxReadLength: number
  /** Milliseconds one read may wait for its answer, or `undefined` for no bound. */
  readonly readTimeout: number | undefined
}

const invalid = (argument: string, expected: string, value: unknown): Exit.Exit<never, InvalidArgument> =>
  Exit.fail(new InvalidArgument({ argument, message: `${argument}: expected ${expected}, got ${show(value)}` }))

/** A byte count: a non-negative safe integer (so never NaN, fractional, negative or Infinity). */
const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

const tooLarge = (limit: ReadLimit, value: number, wanted: string): Exit.Exit<never, ReadError> =>
  Exit.fail(new ReadError({ reason: "TooLarge", limit, cause: `${wanted} exceeds ${limit} (${value} bytes)` }))

/** @internal */
export class ReaderImpl implements Reader.Reader {
  readonly [TypeId]: Reader.TypeId = TypeId

  // Buffered bytes are never moved or overwritten while unconsumed (`Framing.forEachFrame` hands
  // out views of them that must stay valid until consumed; test/Framing.test.ts checks it).
  private chunks: Array<Buffer> = []
  /** Index of the first chunk still holding unread bytes. */
  private head = 0
  /** Offset of the first unread byte in `chunks[head]`. */
  private offset = 0
  /** Unread bytes in the buffer. */
  private buffered = 0
  /** How many unread bytes (from the front) are known to hold no LF: saves rescanning. */
  private scannedNoLf = 0
  private eof = false
  private failure: ReadError | undefined = undefined
  private closed = false
  private paused = false
  private busy = false
  /** The `readTimeout` timer of the read in progress, and whether it fired. */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private timedOut = false
  /** The attempt of the read that is waiting for input (while `busy`). */
  private pending: (() => Attempt<any, any>) | undefined = undefined
  /** The suspended read's resume callback. */
  private waiter: ((effect: Effect.Effect<any, any>) => void) | undefined = undefined
  /** The fiber whose read is waiting (while `busy`), and whether it waits interruptibly. */
  private waitingFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private waitsInterruptibly = false
  /** Counts arrivals (chunks, end, failure, close): tells a waiting read whether to look again. */
  private arrivals = 0
  /** `arrivals` when the current read last attempted. */
  private attempted = 0
  // Effects and streams of the public interface, built on first use (most connections use few).
  private cachedRead: Effect.Effect<Option.Option<Uint8Array>, ReadError> | undefined = undefined
  private cachedExactly: Effect.Effect<Uint8Array, ReadError | InvalidArgument> | undefined = undefined
  private cachedExactlyN = -1
  private cachedReadByte: Effect.Effect<Option.Option<number>, ReadError> | undefined = undefined
  private cachedReadChar: Effect.Effect<Option.Option<string>, ReadError> | undefined = undefined
  private cachedReadLine: Effect.Effect<Option.Option<string>, ReadError> | undefined = undefined
  private cachedReadAll: Effect.Effect<Uint8Array, ReadError> | undefined = undefined
  private cachedStream: Stream.Stream<Uint8Array, ReadError> | undefined = undefined
  private cachedLines: Stream.Stream<string, ReadError> | undefined = undefined
  private cachedBytesRead: Effect.Effect<number> | undefined = undefined
  private cachedBytesBuffered: Effect.Effect<number> | undefined = undefined
  private cachedIsAtEof: Effect.Effect<boolean> | undefined = undefined
  /** Bytes received from the socket so far. */
  received = 0
  /** readChunks' joined bytes: a buffer with spare room, how much of it is used, the chunk viewing it. */
  private merged: Buffer | undefined = undefined
  private mergedEnd = 0
  private mergedView: Buffer | undefined = undefined
  /** The lines `gatherLines` gathered, until taken. */
  private gathered: Array<string> | undefined = undefined

  constructor(
    private readonly source: ReaderSource,
    private readonly config: ReaderConfig,
    /** The scheduler of the fibers that read (a server's), resumed from the socket's callbacks. */
    private readonly handOff?: HandOffScheduler
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Feeding, from the socket

  /** Appends a chunk the socket delivered. The chunk must not be reused by the caller. */
  push(chunk: Uint8Array): void {
    if (this.closed || chunk.byteLength === 0) return
    this.chunks.push(asBuffer(chunk))
    this.buffered += chunk.byteLength
    this.received += chunk.byteLength
    this.arrivals++
    if (this.waiter !== undefined) {
      this.wakeNow()
    } else if (this.buffered >= this.config.bufferSize && !this.paused) {
      this.paused = true
      this.source.pause()
    }
  }

  /** The peer sent FIN: reads return what is buffered, then end of stream. */
  end(): void {
    this.eof = true
    this.arrivals++
    this.wakeNow()
  }

  /** The connection failed (reset, …): reads return what is buffered, then this error. */
  fail(error: ReadError): void {
    if (this.failure === undefined && !this.eof) this.failure = error
    this.eof = true
    this.arrivals++
    this.wakeNow()
  }

  /** Closes the reader: buffered bytes are dropped, pending and later reads fail `Closed`. */
  close(): void {
    this.closed = true
    this.chunks = []
    this.merged = undefined
    this.mergedView = undefined
    this.head = 0
    this.offset = 0
    this.buffered = 0
    this.arrivals++
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(this.retry)
    }
  }

  /** `wake` from a socket callback: the waiting read runs now when its scheduler allows it. */
  private wakeNow(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    if (this.handOff !== undefined) this.handOff.resumeNow(waiter, this.retry)
    else waiter(this.retry)
  }

  /**
   * Runs a synchronous attempt; when the buffer cannot answer yet, waits for input and tries
   * again, holding the reader busy so that a concurrent read fails instead of interleaving.
   *
   * The retry runs in the reading fiber (the waiter resumes it with the attempt, not with its
   * result), so a read interrupted while waiting consumes nothing: an interrupted fiber never
   * runs the effect it is resumed with. When the buffer answers at once, this is one
   * `Effect.withFiberRuntime` and no fiber, promise or frame.
   *
   * A wait adds no frame to the fiber either (no canceller, mask or handler per wait): the
   * effects that wait are built once per reader. A read that was interrupted while waiting
   * leaves the reader marked busy; the next read finds out that the waiting read was abandoned
   * (see `abandoned`) and frees the reader before it starts.
   */
  private run<A, E = ReadError>(attempt: () => Attempt<A, E>): Effect.Effect<A, E | ReadError> {
    return Effect.withFiberRuntime((fiber, status) => this.start(attempt, fiber, status.runtimeFlags))
  }

  private start<A, E>(
    attempt: () => Attempt<A, E>,
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    runtimeFlags: RuntimeFlags.RuntimeFlags
  ): Effect.Effect<A, E | ReadError> {
    if (this.busy) {
      if (!this.abandoned(fiber)) return Exit.fail(readerInUse)
      this.free()
    }
    this.attempted = this.arrivals
    const first = attempt()
    if (first !== NeedMore) return first
    this.busy = true
    this.pending = attempt
    // The waiting fiber, for `abandoned`.
    this.waitingFiber = fiber
    this.waitsInterruptibly = RuntimeFlags.interruptible(runtimeFlags)
    const timeout = this.config.readTimeout
    if (timeout !== undefined) this.timer = setTimeout(readTimedOut, timeout, this)
    return this.wait
  }

  /** `readTimeout` expired while a read waited: the read fails at its next attempt, unless it can answer. */
  timedOutNow(): void {
    this.timer = undefined
    this.timedOut = true
    this.arrivals++
    this.wake()
  }

  /**
   * Whether the read the reader is busy with was abandoned, asked by a read starting in `fiber`.
   * It was when that read's fiber is this one (a fiber cannot start a read while it waits in
   * another), when that fiber has ended, or when it waited interruptibly and has been interrupted
   * since (an interrupted fiber's wait is over: it never runs the retry it may be resumed with).
   * A fiber waiting uninterruptibly is never abandoned: its wait ends only with input.
   */
  private abandoned(fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean {
    const waiting = this.waitingFiber
    if (waiting === undefined || waiting === fiber || waiting.unsafePoll() !== null) return true
    return this.waitsInterruptibly && !Cause.isEmpty(waiting.getFiberRef(FiberRef.interruptedCause))
  }

  /** The reader is no longer busy (the read completed, failed or was abandoned); its timer cancelled. */
  private free(): void {
    this.busy = false
    this.pending = undefined
    this.waiter = undefined
    this.waitingFiber = undefined
    this.timedOut = false
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  /** The next attempt of the waiting read, in its fiber; waits again when it needs more. */
  private readonly retry: Effect.Effect<any, any> = Effect.suspend(() => {
    const attempt = this.pending
    // Closed and freed in between (an abandoned read resumed late): nothing to do.
    if (attempt === undefined) return Exit.fail(readerClosed)
    this.attempted = this.arrivals
    let next: Attempt<unknown, unknown>
    try {
      next = attempt()
    } catch (defect) {
      this.free()
      throw defect
    }
    if (next === NeedMore) {
      if (!this.timedOut) return this.wait
      this.free()
      return Exit.fail(
        new ReadError({ reason: "Timeout", cause: `no answer within readTimeout (${this.config.readTimeout} ms)` })
      )
    }
    this.free()
    return next
  })

  /** Suspends until input arrives, then resumes with `retry`. */
  private readonly wait: Effect.Effect<any, any> = Effect.async<any, any>((resume) => {
    if (this.arrivals !== this.attempted) {
      // Input arrived between the attempt and this wait (the fiber yielded): look again.
      resume(this.retry)
      return
    }
    this.waiter = resume
    if (this.paused) {
      // A read that needs more than the buffer holds may read past `bufferSize`; it is bounded
      // by the read itself (maxLineLength, n, maxLength).
      this.paused = false
      this.source.resume()
    }
  })

  /** What a read answers when the buffer is exhausted and no more input will come. */
  private endExit(): Exit.Exit<never, ReadError> | undefined {
    if (this.closed) return Exit.fail(readerClosed)
    if (this.failure !== undefined) return Exit.fail(this.failure)
    return undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Buffer primitives (synchronous)

  /** Drops `n` unread bytes from the front. */
  private skip(n: number): void {
    this.buffered -= n
    this.scannedNoLf = Math.max(0, this.scannedNoLf - n)
    while (n > 0) {
      const chunk = this.chunks[this.head]!
      const available = chunk.byteLength - this.offset
      if (n < available) {
        this.offset += n
        break
      }
      n -= available
      this.head++
      this.offset = 0
    }
    this.compact()
    if (this.paused && this.buffered < this.config.bufferSize) {
      this.paused = false
      this.source.resume()
    }
  }

  /** Forgets consumed chunks once the list is empty or mostly consumed. */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks.length = 0
      this.head = 0
      this.merged = undefined
      this.mergedView = undefined
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }

  /** Copies `n` unread bytes from the front, starting `from` bytes in, without consuming. */
  private copy(from: number, n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    let written = 0
    let index = this.head
    let position = this.offset + from
    while (position >= (this.chunks[index]?.byteLength ?? Infinity)) {
      position -= this.chunks[index]!.byteLength
      index++
    }
    while (written < n) {
      const chunk = this.chunks[index]!
      const take = Math.min(n - written, chunk.byteLength - position)
      out.set(chunk.subarray(position, position + take), written)
      written += take
      index++
      position = 0
    }
    return out
  }

  /**
   * Takes `n` unread bytes. When they lie in one received chunk and fill at least half of it,
   * they are a view of that chunk (no copy; the reader never touches consumed bytes again, and
   * the view keeps at most twice its size alive); otherwise a new array.
   */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY
    const chunk = this.chunks[this.head]!
    const start = this.offset
    let out: Buffer
    if (start + n <= chunk.byteLength && n * 2 >= chunk.byteLength) {
      out = start === 0 && n === chunk.byteLength ? chunk : chunk.subarray(start, start + n)
    } else {
      out = this.copy(0, n)
    }
    this.skip(n)
    return out
  }

  /** Decodes `n` unread bytes as UTF-8 and drops them plus `extra` following bytes. */
  private takeString(n: number, extra: number): string {
    const chunk = this.chunks[this.head]!
    let text: string
    if (chunk !== undefined && this.offset + n <= chunk.byteLength) {
      text = chunk.toString("utf8", this.offset, this.offset + n)
    } else {
      text = n === 0 ? "" : this.copy(0, n).toString("utf8")
    }
    this.skip(n + extra)
    return text
  }

  /** Position (from the first unread byte) of the first `byte` at or after `from`, or -1. */
  private indexOfByte(byte: number, from: number): number {
    let base = 0
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!
      const start = i === this.head ? this.offset : 0
      const length = chunk.byteLength - start
      if (from < base + length) {
        const at = chunk.indexOf(byte, start + Math.max(0, from - base))
        if (at !== -1) return base + at - start
      }
      base += length
    }
    return -1
  }

  private byteAt(position: number): number {
    let index = this.head
    let at = this.offset + position
    while (at >= this.chunks[index]!.byteLength) {
      at -= this.chunks[index]!.byteLength
      index++
    }
    return this.chunks[index]![at]!
  }

  /** Position of the first occurrence of `delimiter` at or after `from`, or -1. */
  private indexOf(delimiter: Uint8Array, from: number): number {
    const first = delimiter[0]!
    let at = this.indexOfByte(first, from)
    while (at !== -1 && at + delimiter.byteLength <= this.buffered) {
      let match = true
      for (let k = 1; k < delimiter.byteLength; k++) {
        if (this.byteAt(at + k) !== delimiter[k]) {
          match = false
          break
        }
      }
      if (match) return at
      at = this.indexOfByte(first, at + 1)
    }
    return -1
  }

  // ---------------------------------------------------------------------------------------------
  // Line framing, shared by readLine and lines

  /** The next complete line, the unterminated last line at end of stream, or NeedMore. */
  private nextLine(): Exit.Exit<Option.Option<string>, ReadError> | typeof NeedMore {
    if (this.closed) return Exit.fail(readerClosed)
    // Fast path: the next line ends within the first chunk.
    const chunk = this.chunks[this.head]!
    if (chunk !== undefined && this.scannedNoLf === 0) {
      const start = this.offset
      const lf = chunk.indexOf(LF, start)
      if (lf !== -1) {
        const end = lf > start && chunk[lf - 1] === CR ? lf - 1 : lf
        if (end - start > this.config.maxLineLength) return this.lineTooLong()
        const line = (chunk as unknown as Utf8Sliceable).utf8Slice(start, end)
        this.skip(lf + 1 - start)
        return Exit.succeed(Option.some(line))
      }
    }
    const lf = this.indexOfByte(LF, this.scannedNoLf)
    if (lf !== -1) {
      const length = lf > 0 && this.byteAt(lf - 1) === CR ? lf - 1 : lf
      if (length > this.config.maxLineLength) return this.lineTooLong()
      return Exit.succeed(Option.some(this.takeString(length, lf + 1 - length)))
    }
    this.scannedNoLf = this.buffered
    if (this.buffered > this.config.maxLineLength + 1) return this.lineTooLong()
    if (!this.eof) return NeedMore
    const end = this.endExit()
    if (end !== undefined) return end
    if (this.buffered === 0) return noneExit
    // The unterminated last line: returned as it is (a CR without LF is not a line end).
    if (this.buffered > this.config.maxLineLength) return this.lineTooLong()
    return Exit.succeed(Option.some(this.takeString(this.buffered, 0)))
  }

  private lineTooLong(): Exit.Exit<never, ReadError> {
    return Exit.fail(
      new ReadError({
        reason: "LineTooLong",
        limit: "maxLineLength",
        cause: `no line end within ${this.config.maxLineLength} bytes (maxLineLength)`
      })
    )
  }

  // ---------------------------------------------------------------------------------------------
  // The public operations

  read(): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  read(maxBytes?: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument>
  read(maxBytes?: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument> {
    if (maxBytes === undefined) return this.cachedRead ??= this.readEffect(undefined)
    if (!isCount(maxBytes)) return invalid("maxBytes", "a non-negative integer", maxBytes)
    return this.readEffect(maxBytes)
  }

  private readEffect(maxBytes: number | undefined): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    return this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered > 0) {
        const n = maxBytes === undefined ? this.buffered : Math.min(maxBytes, this.buffered)
        return Exit.succeed(Option.some(this.take(n)))
      }
      if (!this.eof) return NeedMore
      return this.endExit() ?? noneExit
    })
  }

  get readByte(): Effect.Effect<Option.Option<number>, ReadError> {
    return this.cachedReadByte ??= this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered > 0) {
        const byte = this.chunks[this.head]![this.offset]!
        this.skip(1)
        return Exit.succeed(Option.some(byte))
      }
      if (!this.eof) return NeedMore
      return this.endExit() ?? noneExit
    })
  }

  get readChar(): Effect.Effect<Option.Option<string>, ReadError> {
    return this.cachedReadChar ??= this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered === 0) {
        if (!this.eof) return NeedMore
        return this.endExit() ?? noneExit
      }
      const lead = this.byteAt(0)
      const width = lead < 0xc2 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead <= 0xf4 ? 4 : 1
      let complete = 1
      while (complete < width && complete < this.buffered) {
        // The second byte's range depends on the lead (no overlongs, surrogates or > U+10FFFF).
        const byte = this.byteAt(complete)
        const low = complete > 1 ? 0x80 : lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80
        const high = complete > 1 ? 0xbf : lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf
        if (byte < low || byte > high) break
        complete++
      }
      if (complete < width && complete === this.buffered && !this.eof) return NeedMore
      // An invalid or truncated sequence decodes to U+FFFD and consumes only the bytes it spans.
      return Exit.succeed(Option.some(this.takeString(complete, 0)))
    })
  }

  get readLine(): Effect.Effect<Option.Option<string>, ReadError> {
    return this.cachedReadLine ??= this.run(() => this.nextLine())
  }

  readUntil(
    delimiter: string | Uint8Array,
    options?: Reader.ReadUntilOptions
  ): Effect.Effect<Reader.ReadUntilResult, ReadError | InvalidArgument> {
    let delim: Uint8Array
    if (typeof delimiter === "string") delim = Buffer.from(delimiter, "utf8")
    else if (delimiter instanceof Uint8Array) delim = delimiter
    else return invalid("delimiter", "a string or a Uint8Array", delimiter)
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      return invalid("options", "an object", options)
    }
    const keep = options?.keepDelimiter
    if (keep !== undefined && typeof keep !== "boolean") return invalid("keepDelimiter", "a boolean", keep)
    const explicit = options?.maxLength
    if (explicit !== undefined && explicit !== Infinity && !isCount(explicit)) {
      return invalid("maxLength", "a non-negative integer or Infinity", explicit)
    }
    const maxLength = explicit ?? this.config.maxReadLength
    const limit: ReadLimit = explicit === undefined ? "maxReadLength" : "maxLength"
    // State per run: the returned effect may be run again (a loop, `Effect.repeat`).
    return Effect.suspend(() => {
      let scanned = 0
      return this.run((): Attempt<Reader.ReadUntilResult> => {
        if (this.closed) return Exit.fail(readerClosed)
        if (delim.byteLength === 0) return Exit.succeed({ _tag: "Found", bytes: EMPTY })
        const at = this.indexOf(delim, Math.max(0, scanned - delim.byteLength + 1))
        if (at !== -1) {
          if (at > maxLength) return this.untilTooLong(maxLength, limit)
          const bytes = this.take(keep === true ? at + delim.byteLength : at)
          if (keep !== true) this.skip(delim.byteLength)
          return Exit.succeed({ _tag: "Found", bytes })
        }
        scanned = this.buffered
        if (this.buffered > maxLength + delim.byteLength) return this.untilTooLong(maxLength, limit)
        if (!this.eof) return NeedMore
        const end = this.endExit()
        if (end !== undefined) return end
        if (this.buffered === 0) return Exit.succeed(eofResult)
        if (this.buffered > maxLength) return this.untilTooLong(maxLength, limit)
        return Exit.succeed({ _tag: "EofWithoutDelimiter", bytes: this.take(this.buffered) })
      })
    })
  }

  private untilTooLong(maxLength: number, limit: ReadLimit): Exit.Exit<never, ReadError> {
    return Exit.fail(
      new ReadError({ reason: "LineTooLong", limit, cause: `no delimiter within ${maxLength} bytes (${limit})` })
    )
  }

  readExactly(n: number): Effect.Effect<Uint8Array, ReadError | InvalidArgument> {
    if (!isCount(n)) return invalid("n", "a non-negative integer", n)
    // Refused before buffering anything: a length prefix from the peer cannot make us hold more.
    if (n > this.config.maxReadLength) return tooLarge("maxReadLength", this.config.maxReadLength, `readExactly(${n})`)
    // A loop reading records of one size gets the same effect each time.
    if (n === this.cachedExactlyN && this.cachedExactly !== undefined) return this.cachedExactly
    this.cachedExactlyN = n
    return this.cachedExactly = this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered >= n) return Exit.succeed(this.take(n))
      if (!this.eof) return NeedMore
      const end = this.endExit()
      if (end !== undefined) return end
      return Exit.fail(new ReadError({ reason: "UnexpectedEof", partial: this.take(this.buffered) }))
    })
  }

  peek(n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError | InvalidArgument> {
    if (!isCount(n)) return invalid("n", "a non-negative integer", n)
    if (n > this.config.maxReadLength) return tooLarge("maxReadLength", this.config.maxReadLength, `peek(${n})`)
    return this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered >= n) return Exit.succeed(Option.some(n === 0 ? EMPTY : this.copy(0, n)))
      if (!this.eof) return NeedMore
      return this.endExit() ?? noneExit
    })
  }

  get readAll(): Effect.Effect<Uint8Array, ReadError> {
    return this.cachedReadAll ??= this.run(() => {
      if (this.closed) return Exit.fail(readerClosed)
      if (this.buffered > this.config.maxReadLength) {
        return tooLarge("maxReadLength", this.config.maxReadLength, "readAll")
      }
      if (!this.eof) {
        // Reading to the end may hold more than bufferSize (up to maxReadLength): keep the socket flowing.
        return NeedMore
      }
      const end = this.endExit()
      if (end !== undefined) return end
      return Exit.succeed(this.take(this.buffered))
    })
  }

  readChunks<X>(
    handle: (chunk: Uint8Array) => Reader.ChunkResult<X>
  ): Effect.Effect<Reader.ChunksEnd<X>, ReadError | InvalidArgument> {
    if (typeof handle !== "function") return invalid("handle", "a function", handle)
    // After `Consumed(n)` with bytes left over, the handler is not called again until more bytes
    // arrive; then it sees the leftover and the new bytes as one contiguous chunk (at most
    // maxReadLength of them: a handler waiting for more cannot make the reader hold more).
    // State per run: the returned effect may be run again (a loop, `Effect.repeat`).
    return Effect.suspend(() => {
      let waitingForMore = false
      let leftover = 0
      return this.run((): Attempt<Reader.ChunksEnd<X>, ReadError | InvalidArgument> => {
        for (;;) {
          if (this.closed) return Exit.fail(readerClosed)
          if (waitingForMore && this.buffered > leftover) {
            if (this.buffered > this.config.maxReadLength) {
              return tooLarge("maxReadLength", this.config.maxReadLength, "readChunks' unconsumed bytes")
            }
            this.mergeFront()
            waitingForMore = false
          }
          if (this.buffered === 0 || waitingForMore) {
            if (!this.eof) return NeedMore
            const end = this.endExit()
            if (end !== undefined) return end
            if (this.buffered === 0) return Exit.succeed({ _tag: "Eof" })
            return Exit.succeed({ _tag: "EofWithUnconsumed", bytes: this.take(this.buffered) })
          }
          const chunk = this.chunks[this.head]!
          const view = this.offset === 0 ? chunk : chunk.subarray(this.offset)
          const result = handle(view)
          switch (typeof result === "object" && result !== null ? result._tag : undefined) {
            case "Continue":
              this.skip(view.byteLength)
              break
            case "Consumed": {
              const n = (result as { readonly n: unknown }).n
              if (!isCount(n) || n > view.byteLength) return invalidConsumed("Consumed", n, view.byteLength)
              this.skip(n)
              if (n < view.byteLength) {
                leftover = view.byteLength - n
                waitingForMore = true
              }
              break
            }
            case "Stop":
              this.skip(view.byteLength)
              return Exit.succeed({ _tag: "Stopped", value: (result as { readonly value: X }).value })
            case "StopConsumed": {
              const { n, value } = result as { readonly n: unknown; readonly value: X }
              if (!isCount(n) || n > view.byteLength) return invalidConsumed("StopConsumed", n, view.byteLength)
              this.skip(n)
              return Exit.succeed({ _tag: "Stopped", value })
            }
            default:
              return invalid("handle", "a ChunkResult (Continue, Consumed, Stop or StopConsumed) as its result", result)
          }
        }
      })
    })
  }

  /**
   * Joins the first unread chunk with the next ones into one chunk. The joined bytes live in a
   * buffer with room to spare, and a later join appends to it when it can: a handler that keeps
   * asking for more copies each byte a bounded number of times, not once per arrival. Bytes
   * already in the buffer are never overwritten (a stream may have emitted views of them).
   */
  private mergeFront(): void {
    const total = this.buffered
    const head = this.chunks[this.head]
    const merged = this.merged
    let start: number
    let end: number
    if (merged !== undefined && head === this.mergedView) {
      // The head is the last join: its unread bytes end at mergedEnd; append the rest after them.
      start = head!.byteOffset - merged.byteOffset + this.offset
      end = this.mergedEnd
      for (let i = this.head + 1; i < this.chunks.length; i++) {
        const chunk = this.chunks[i]!
        if (end + chunk.byteLength > merged.byteLength) return this.mergeInto(total)
        merged.set(chunk, end)
        end += chunk.byteLength
      }
      this.setMerged(merged, start, end)
      return
    }
    this.mergeInto(total)
  }

  private mergeInto(total: number): void {
    const merged = Buffer.allocUnsafe(Math.max(2 * total, 64 * 1024))
    this.copyInto(merged, total)
    this.setMerged(merged, 0, total)
  }

  private copyInto(out: Buffer, n: number): void {
    let written = 0
    for (let i = this.head; written < n; i++) {
      const chunk = this.chunks[i]!
      const from = i === this.head ? this.offset : 0
      out.set(chunk.subarray(from), written)
      written += chunk.byteLength - from
    }
  }

  private setMerged(merged: Buffer, start: number, end: number): void {
    this.merged = merged
    this.mergedEnd = end
    this.mergedView = merged.subarray(start, end)
    this.chunks = [this.mergedView]
    this.head = 0
    this.offset = 0
  }

  /** Stream attempt: every buffered chunk (no copy), or an empty chunk at the end. */
  private pullChunks(): Attempt<Chunk.Chunk<Uint8Array>> {
    if (this.closed) return Exit.fail(readerClosed)
    if (this.buffered > 0) {
      let out: Array<Uint8Array>
      if (this.head === this.chunks.length - 1) {
        const chunk = this.chunks[this.head]!
        out = [this.offset > 0 ? chunk.subarray(this.offset) : chunk]
      } else {
        out = []
        for (let i = this.head; i < this.chunks.length; i++) {
          const chunk = this.chunks[i]!
          out.push(i === this.head && this.offset > 0 ? chunk.subarray(this.offset) : chunk)
        }
      }
      this.skip(this.buffered)
      return Exit.succeed(Chunk.unsafeFromArray(out))
    }
    if (!this.eof) return NeedMore
    return this.endExit() ?? emptyChunkExit
  }

  /** Lines attempt: every complete line buffered, or an empty chunk at the end. */
  private pullLines(): Attempt<Chunk.Chunk<string>> {
    const span = this.gatherLines()
    if (typeof span !== "number") return span === Ended ? emptyChunkExit : span
    const out = this.takeGathered()
    this.skip(span)
    return Exit.succeed(Chunk.unsafeFromArray(out))
  }

  /** The lines of the last `gatherLines` that answered a span (handed over: not kept). */
  private takeGathered(): Array<string> {
    const out = this.gathered!
    this.gathered = undefined
    return out
  }

  /**
   * Gathers every complete line buffered into `gathered` (and, at end of stream, the
   * unterminated last one), without consuming them, and answers how many bytes they span; or,
   * when there is no line to give, NeedMore, `Ended` or the failure `readLine` would give.
   * Equivalent to calling `readLine` repeatedly (the model tests check it), but each chunk is
   * decoded once and split once: the lines of a chunk are slices of one string, and the array
   * the split makes is the batch when the batch starts in that chunk. Only a line that spans
   * chunks is copied (its bytes joined, then decoded). An LF is ASCII, so no UTF-8 sequence
   * spans one.
   */
  private gatherLines(): number | typeof NeedMore | typeof Ended | Exit.Exit<never, ReadError> {
    this.gathered = undefined
    if (this.closed) return Exit.fail(readerClosed)
    let out: Array<string> = []
    const max = this.config.maxLineLength
    /** Bytes from the front gathered so far; `index`/`offset` locate the same position. */
    let pos = 0
    let index = this.head
    let offset = this.offset
    while (pos < this.buffered) {
      const chunk = this.chunks[index]!
      let last = chunk.lastIndexOf(LF)
      if (last >= offset) {
        // The lines that end in this chunk: one decode, one split. Lines within `max` bytes
        // of each other cannot be too long; past that, they are checked one at a time.
        if (last - offset > max) last = chunk.lastIndexOf(LF, offset + max)
        if (last >= offset) {
          const lines = (chunk as unknown as Utf8Sliceable).utf8Slice(offset, last).split("\n")
          // CRs only when the bytes hold one (one memchr instead of a look at every line).
          const cr = chunk.indexOf(CR, offset)
          if (cr !== -1 && cr < last) {
            for (let i = 0; i < lines.length; i++) {
              const line = lines[i]!
              if (line.charCodeAt(line.length - 1) === CR) lines[i] = line.slice(0, -1)
            }
          }
          if (out.length === 0) out = lines
          else for (let i = 0; i < lines.length; i++) out.push(lines[i]!)
          pos += last + 1 - offset
          offset = last + 1
        } else {
          // The next line alone (CRLF decides whether it is exactly `max` or longer).
          const lf = chunk.indexOf(LF, offset)
          const length = lf > offset && chunk[lf - 1] === CR ? lf - 1 - offset : lf - offset
          if (length > max) return out.length > 0 ? this.gatheredSpan(out, pos) : this.lineTooLong()
          out.push((chunk as unknown as Utf8Sliceable).utf8Slice(offset, offset + length))
          pos += lf + 1 - offset
          offset = lf + 1
        }
        if (offset === chunk.byteLength) {
          index++
          offset = 0
        }
        continue
      }
      // No LF in the rest of this chunk: the line continues in later ones.
      const rest = chunk.byteLength - offset
      const at = this.indexOfByte(LF, pos === 0 ? Math.max(this.scannedNoLf, rest) : pos + rest)
      if (at === -1) {
        if (pos === 0) this.scannedNoLf = this.buffered
        const left = this.buffered - pos
        if (left > max + 1) return out.length > 0 ? this.gatheredSpan(out, pos) : this.lineTooLong()
        if (!this.eof) break
        const end = this.endExit()
        if (end !== undefined) return out.length > 0 ? this.gatheredSpan(out, pos) : end
        // The unterminated last line: returned as it is (a CR without LF is not a line end).
        if (left > max) return out.length > 0 ? this.gatheredSpan(out, pos) : this.lineTooLong()
        out.push(this.copy(pos, left).toString("utf8"))
        pos += left
        break
      }
      const length = at > pos && this.byteAt(at - 1) === CR ? at - 1 - pos : at - pos
      if (length > max) return out.length > 0 ? this.gatheredSpan(out, pos) : this.lineTooLong()
      out.push(length === 0 ? "" : this.copy(pos, length).toString("utf8"))
      // Move to the byte after the LF.
      let skip = at + 1 - pos
      pos = at + 1
      while (skip > 0 && index < this.chunks.length) {
        const available = this.chunks[index]!.byteLength - offset
        if (skip < available) {
          offset += skip
          break
        }
        skip -= available
        index++
        offset = 0
      }
    }
    if (out.length > 0) return this.gatheredSpan(out, pos)
    if (!this.eof) return NeedMore
    return this.endExit() ?? Ended
  }

  private gatheredSpan(out: Array<string>, span: number): number {
    this.gathered = out
    return span
  }

  /** Bytes spanned by the first `n` buffered lines (all of them: through the unterminated last one). */
  private lineBytes(n: number): number {
    let pos = 0
    for (let i = 0; i < n; i++) {
      const lf = this.indexOfByte(LF, pos)
      if (lf === -1) return this.buffered
      pos = lf + 1
    }
    return pos
  }

  readLineChunks<X>(
    handle: (lines: ReadonlyArray<string>) => Reader.ChunkResult<X>
  ): Effect.Effect<Reader.ChunksEnd<X>, ReadError | InvalidArgument> {
    if (typeof handle !== "function") return invalid("handle", "a function", handle)
    // As readChunks: after `Consumed(n)` with lines left over, the handler is called again once
    // more bytes have arrived, with the lines left over and the new ones.
    // State per run: the returned effect may be run again (a loop, `Effect.repeat`).
    return Effect.suspend(() => {
      let waitingForMore = false
      let leftover = 0
      return this.run((): Attempt<Reader.ChunksEnd<X>, ReadError | InvalidArgument> => {
        for (;;) {
          if (waitingForMore && this.buffered > leftover) waitingForMore = false
          const span = waitingForMore ? (this.eof ? Ended : NeedMore) : this.gatherLines()
          if (typeof span !== "number") {
            if (span !== Ended) return span
            if (this.closed) return Exit.fail(readerClosed)
            if (this.buffered === 0) return Exit.succeed(eofChunks)
            return Exit.succeed({ _tag: "EofWithUnconsumed", bytes: this.take(this.buffered) })
          }
          const out = this.takeGathered()
          const result = handle(out)
          switch (typeof result === "object" && result !== null ? result._tag : undefined) {
            case "Continue":
              this.skip(span)
              break
            case "Consumed": {
              const n = (result as { readonly n: unknown }).n
              if (!isCount(n) || n > out.length) return invalidConsumed("Consumed", n, out.length)
              this.skip(n === out.length ? span : this.lineBytes(n))
              if (n < out.length) {
                leftover = this.buffered
                waitingForMore = true
              }
              break
            }
            case "Stop":
              this.skip(span)
              return Exit.succeed({ _tag: "Stopped", value: (result as { readonly value: X }).value })
            case "StopConsumed": {
              const { n, value } = result as { readonly n: unknown; readonly value: X }
              if (!isCount(n) || n > out.length) return invalidConsumed("StopConsumed", n, out.length)
              this.skip(n === out.length ? span : this.lineBytes(n))
              return Exit.succeed({ _tag: "Stopped", value })
            }
            default:
              return invalid("handle", "a ChunkResult (Continue, Consumed, Stop or StopConsumed) as its result", result)
          }
        }
      })
    })
  }

  /**
   * A stream pulling chunks with `pull` (an empty chunk ends it), as a plain channel loop: one
   * effect and one write per chunk, no Option wrapping of errors and ends.
   */
  private streamOf<A>(pull: () => Attempt<Chunk.Chunk<A>>): Stream.Stream<A, ReadError> {
    const read = this.run(pull)
    const loop: Channel.Channel<Chunk.Chunk<A>, unknown, ReadError, unknown, void, unknown> = Channel.flatMap(
      Channel.fromEffect(read),
      (chunk) => Chunk.isEmpty(chunk) ? Channel.void : Channel.flatMap(Channel.write(chunk), () => loop)
    )
    return Stream.fromChannel(loop)
  }

  get stream(): Stream.Stream<Uint8Array, ReadError> {
    return this.cachedStream ??= this.streamOf(() => this.pullChunks())
  }

  get lines(): Stream.Stream<string, ReadError> {
    return this.cachedLines ??= this.streamOf(() => this.pullLines())
  }

  get bytesRead(): Effect.Effect<number> {
    return this.cachedBytesRead ??= Effect.sync(() => this.received)
  }

  get bytesBuffered(): Effect.Effect<number> {
    return this.cachedBytesBuffered ??= Effect.sync(() => this.buffered)
  }

  get isAtEof(): Effect.Effect<boolean> {
    return this.cachedIsAtEof ??= Effect.sync(() => this.eof && this.buffered === 0)
  }
}
