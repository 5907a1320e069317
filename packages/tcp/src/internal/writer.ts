/**
 * The writer behind every connection.
 *
 * Writes go straight into the socket, corked for the rest of the current tick so that all the
 * writes of one turn leave in one `writev` syscall; a write of `uncorkedFrom` or more that finds
 * nothing corked goes out at once: batching gains it nothing, and in bulk transfers Node's
 * cork/`writev` path cost more CPU per byte than plain writes (measured). Node keeps the bytes
 * the kernel has not taken yet (`writableLength`); a write suspends while more than `bufferSize`
 * bytes wait there, until Node's `'drain'` event (one listener per writer, waking every waiting
 * write at once).
 * `flushed` and the final flush of `close` use an empty write with a callback instead: Node
 * completes writes in order, so its callback says that every byte written before it has been
 * handed to the OS.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Sink from "effect/Sink"
import type * as net from "node:net"
import { InvalidArgument, WriteError } from "../TcpError.js"
import type * as Writer from "../Writer.js"
import { writeError } from "./errno.js"
import * as metrics from "./metrics.js"
import { show } from "./validate.js"

/** `Writer.TypeId`. */
export const TypeId: Writer.TypeId = Symbol.for("effect-tcp/Writer") as Writer.TypeId

const EMPTY = Buffer.alloc(0)
const writerClosed = new WriteError({ reason: "Closed" })

/** Whether `data` is something a write takes (JavaScript callers may pass anything). */
const isWritable = (data: unknown): data is Uint8Array | string =>
  typeof data === "string" || data instanceof Uint8Array

const notWritable = (argument: string, data: unknown): Exit.Exit<never, InvalidArgument> =>
  Exit.fail(
    new InvalidArgument({ argument, message: `${argument}: expected a Uint8Array or a string, got ${show(data)}` })
  )

const notLine = (line: unknown): Exit.Exit<never, InvalidArgument> =>
  Exit.fail(new InvalidArgument({ argument: "line", message: `line: expected a string, got ${show(line)}` }))

/** Writes at least this long (bytes, or UTF-16 code units) are not corked when nothing is. */
const uncorkedFrom = 16 * 1024

/** Uncorks at the end of the tick in which a writer corked (shared: no closure per writer). */
const uncorkAtEndOfTick = (writer: WriterImpl): void => writer.uncorkIfCorked()

/** The buffer age timer expired (shared: no closure per writer). */
const checkAge = (writer: WriterImpl): void => writer.checkAge()

/** Options of the writer that have been validated already. */
export interface WriterConfig {
  readonly bufferSize: number
  /** Milliseconds, or `undefined` for "unlimited". */
  readonly bufferAgeLimit: number | undefined
  readonly closeTimeout: number
}

/** @internal */
export class WriterImpl implements Writer.Writer {
  readonly [TypeId]: Writer.TypeId = TypeId

  private corked = false
  private failure: WriteError | undefined = undefined
  /** Set once `close` started: no write is accepted after it. */
  private ending = false
  private closeDone = false
  private closeWaiters: Array<(effect: Effect.Effect<void>) => void> | undefined = undefined
  private ageTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /**
   * Everything ever written to the socket, in the units of its `writableLength` (bytes, or UTF-16
   * code units for a string), and its value when the age timer was set.
   */
  private written = 0
  private ageMark = 0
  /** The peer went away (EPIPE, ECONNRESET); `leftDeferred` exists once someone awaits it. */
  private left = false
  private leftDeferred: Deferred.Deferred<void> | undefined = undefined
  // Effects and the sink of the public interface, built on first use (most connections use few).
  private cachedDrained: Effect.Effect<void, WriteError> | undefined = undefined
  private cachedSpace: Effect.Effect<void, WriteError> | undefined = undefined
  /** Writes waiting for Node's buffer to drain ('drain'), woken all at once. */
  private spaceWaiters: Array<(exit: Exit.Exit<void, WriteError>) => void> | undefined = undefined
  private cachedFlushed: Effect.Effect<void, WriteError> | undefined = undefined
  private cachedClose: Effect.Effect<void> | undefined = undefined
  private cachedConsumerLeft: Effect.Effect<void> | undefined = undefined
  private cachedSink: Sink.Sink<void, Uint8Array | string, never, WriteError | InvalidArgument> | undefined = undefined
  private cachedBytesWritten: Effect.Effect<number> | undefined = undefined
  private cachedBytesToWrite: Effect.Effect<number> | undefined = undefined
  private cachedIsClosed: Effect.Effect<boolean> | undefined = undefined

  constructor(
    private readonly socket: net.Socket,
    private readonly config: WriterConfig,
    /** Tears the connection down (buffer age limit exceeded); by default destroys the socket. */
    private readonly abortConnection?: () => void
  ) {}

  private abort(): void {
    if (this.abortConnection !== undefined) this.abortConnection()
    else this.socket.destroy()
  }

  // ---------------------------------------------------------------------------------------------
  // Events from the socket

  /** The connection failed; later writes and flushes fail with `error`. */
  fail(error: WriteError): void {
    if (this.failure === undefined) this.failure = error
    if (error.reason === "ConsumerLeft") {
      this.left = true
      if (this.leftDeferred !== undefined) Deferred.unsafeDone(this.leftDeferred, Exit.void)
    }
    this.clearAgeTimer()
    this.wakeSpaceWaiters(Exit.fail(this.failure))
    this.finishClose()
  }

  // ---------------------------------------------------------------------------------------------
  // Batching

  /** @internal */
  uncorkIfCorked(): void {
    if (this.corked) this.uncork()
  }

  private uncork(): void {
    this.corked = false
    this.socket.uncork()
    if (this.socket.writableLength > 0) this.watchAge()
  }

  /** Waits until every byte written so far has been handed to the OS. */
  private get drained(): Effect.Effect<void, WriteError> {
    return this.cachedDrained ??= Effect.async<void, WriteError>((resume) => {
      if (this.corked) this.uncork()
      this.socket.write(EMPTY, (error) => {
        resume(error ? Exit.fail(this.failure ?? writeError(error)) : Exit.void)
      })
    })
  }

  /**
   * Waits until a write may go ahead (at most `bufferSize` bytes waiting). Node emits 'drain'
   * once its buffer is empty after a write that found it at or above the high-water mark, which
   * is always the case here when `bufferSize` is not below that mark: so a waiting write costs an
   * event, not an extra write request. Otherwise it falls back to `drained`.
   */
  private get space(): Effect.Effect<void, WriteError> {
    return this.cachedSpace ??= Effect.async<void, WriteError>((resume) => {
      if (this.corked) this.uncork()
      if (this.failure !== undefined) return resume(Exit.fail(this.failure))
      if (this.socket.writableLength <= this.config.bufferSize) return resume(Exit.void)
      if (!this.socket.writableNeedDrain) return resume(this.drained)
      if (this.spaceWaiters === undefined) {
        this.spaceWaiters = []
        this.socket.on("drain", () => this.wakeSpaceWaiters(Exit.void))
      }
      const waiters = this.spaceWaiters
      waiters.push(resume)
      return Effect.sync(() => {
        const at = waiters.indexOf(resume)
        if (at !== -1) waiters.splice(at, 1)
      })
    })
  }

  private wakeSpaceWaiters(exit: Exit.Exit<void, WriteError>): void {
    const waiters = this.spaceWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.spaceWaiters = []
    for (const waiter of waiters) waiter(exit)
  }

  // ---------------------------------------------------------------------------------------------
  // Buffer age limit: bytes that the OS has not taken for longer than the limit tear the
  // connection down. Watched only while bytes wait in Node's buffer (the kernel's is full), by one
  // timer at a time: no timer or extra write per batch.

  private watchAge(): void {
    const limit = this.config.bufferAgeLimit
    if (limit === undefined || this.ageTimer !== undefined || this.failure !== undefined) return
    this.ageMark = this.written
    const timer = setTimeout(checkAge, limit, this)
    timer.unref()
    this.ageTimer = timer
  }

  /**
   * The age timer expired: the bytes that waited when it was set must have been handed to the OS
   * by now (Node hands them over in order, so: everything written minus what still waits covers
   * them). If they have, the timer is set again for the bytes waiting now; so one timer per
   * `bufferAgeLimit` watches a busy connection, and waiting bytes trip it within twice the limit.
   *
   * @internal
   */
  checkAge(): void {
    this.ageTimer = undefined
    const waiting = this.socket.writableLength
    if (waiting === 0 || this.failure !== undefined) return
    if (this.written - waiting >= this.ageMark) return this.watchAge()
    metrics.bufferAgeLimitTripped()
    this.fail(new WriteError({ reason: "BufferAgeLimitExceeded" }))
    this.abort()
  }

  private clearAgeTimer(): void {
    if (this.ageTimer !== undefined) {
      clearTimeout(this.ageTimer)
      this.ageTimer = undefined
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The public operations

  /** Hands `data` to the socket if the writer can take it now; `undefined` when it must wait. */
  private tryWrite(data: Uint8Array | string): Exit.Exit<void, WriteError> | undefined {
    if (this.failure !== undefined) return Exit.fail(this.failure)
    if (this.ending) return Exit.fail(writerClosed)
    if (this.socket.writableLength > this.config.bufferSize) return undefined
    this.written += data.length
    if (this.corked) {
      this.socket.write(data)
    } else if (data.length >= uncorkedFrom) {
      // Batching gains a large write nothing: it goes to the socket at once.
      this.socket.write(data)
      if (this.socket.writableLength > 0) this.watchAge()
    } else {
      this.corked = true
      this.socket.cork()
      process.nextTick(uncorkAtEndOfTick, this)
      this.socket.write(data)
    }
    return Exit.void
  }

  write(data: Uint8Array | string): Effect.Effect<void, WriteError | InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, WriteError | InvalidArgument> =>
      isWritable(data) ? this.tryWrite(data) ?? this.writeAfterSpace(data) : notWritable("data", data)
    )
  }

  private writeAfterSpace(data: Uint8Array | string): Effect.Effect<void, WriteError> {
    const retry: Effect.Effect<void, WriteError> = Effect.flatMap(
      this.space,
      () => this.tryWrite(data) ?? retry
    )
    return retry
  }

  writeLine(line: string): Effect.Effect<void, WriteError | InvalidArgument> {
    return typeof line === "string" ? this.write(line + "\n") : Effect.suspend(() => notLine(line))
  }

  get flushed(): Effect.Effect<void, WriteError> {
    return this.cachedFlushed ??= Effect.suspend(() => {
      if (this.failure !== undefined) return Exit.fail(this.failure)
      if (this.ending) return this.close
      if (this.corked) this.uncork()
      return this.socket.writableLength === 0 ? Exit.void : this.drained
    })
  }

  private finishClose(): void {
    if (this.closeDone) return
    if (!this.ending && this.failure === undefined) return
    this.closeDone = true
    const waiters = this.closeWaiters
    this.closeWaiters = undefined
    if (waiters !== undefined) { for (const waiter of waiters) waiter(Effect.void) }
  }

  /** Starts closing: flush (bounded by closeTimeout; the socket is destroyed on expiry), then FIN. */
  private startClose(): void {
    this.ending = true
    if (this.failure !== undefined || this.socket.destroyed) return this.finishClose()
    if (this.corked) this.uncork()
    if (this.socket.writableLength === 0) return this.sendFin()
    const timer = setTimeout(() => {
      this.abort()
      this.finishClose()
    }, this.config.closeTimeout)
    timer.unref()
    this.socket.write(EMPTY, () => {
      clearTimeout(timer)
      this.sendFin()
    })
  }

  private sendFin(): void {
    if (!this.socket.destroyed) this.socket.end()
    this.finishClose()
  }

  /** `close` for a caller outside a fiber: `done` is called (with `Effect.void`) once the writer is closed. */
  closeThen(done: (effect: Effect.Effect<void>) => void): void {
    if (this.closeDone) return done(Effect.void)
    ;(this.closeWaiters ??= []).push(done)
    if (!this.ending) this.startClose()
    else this.finishClose()
  }

  get close(): Effect.Effect<void> {
    return this.cachedClose ??= Effect.async<void>((resume) => this.closeThen(resume))
  }

  get consumerLeft(): Effect.Effect<void> {
    return this.cachedConsumerLeft ??= Effect.suspend(() => {
      if (this.leftDeferred === undefined) {
        this.leftDeferred = Deferred.unsafeMake<void>(FiberId.none)
        if (this.left) Deferred.unsafeDone(this.leftDeferred, Exit.void)
      }
      return Deferred.await(this.leftDeferred)
    })
  }

  /**
   * Writes the elements of `chunk` from index `from`, in order, all in the current tick's cork;
   * suspends (as `write` does) only when the socket's buffer is over `bufferSize`.
   */
  private writeChunk(chunk: ReadonlyArray<Uint8Array | string>, from: number): Effect.Effect<void, WriteError> {
    for (let i = from; i < chunk.length; i++) {
      const done = this.tryWrite(chunk[i]!)
      if (done === undefined) return Effect.flatMap(this.space, () => this.writeChunk(chunk, i))
      if (done._tag === "Failure") return done
    }
    return Exit.void
  }

  /**
   * A sink that writes each chunk of the stream at once (one cork, no effect per element). A
   * chunk with an element that is neither bytes nor a string is refused whole, before any of it
   * is written.
   */
  get sink(): Sink.Sink<void, Uint8Array | string, never, WriteError | InvalidArgument> {
    return this.cachedSink ??= Sink.forEachChunk((
      chunk: Chunk.Chunk<Uint8Array | string>
    ): Effect.Effect<void, WriteError | InvalidArgument> => {
      const elements = Chunk.toReadonlyArray(chunk)
      for (const element of elements) {
        if (!isWritable(element)) return notWritable("element", element)
      }
      return this.writeChunk(elements, 0)
    })
  }

  get bytesWritten(): Effect.Effect<number> {
    return this.cachedBytesWritten ??= Effect.sync(() => this.socket.bytesWritten)
  }

  get bytesToWrite(): Effect.Effect<number> {
    return this.cachedBytesToWrite ??= Effect.sync(() => this.socket.writableLength)
  }

  get isClosed(): Effect.Effect<boolean> {
    return this.cachedIsClosed ??= Effect.sync(() => this.ending || this.failure !== undefined)
  }
}
