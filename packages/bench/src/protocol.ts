// The wire protocol and parameters shared by every implementation. This module imports nothing
// but node built-ins so that the raw implementation never loads Effect.

export const SCENARIOS = ["bulk", "echo", "churn", "lines", "frames", "conc", "backpressure", "accept", "idle"] as const
export type Scenario = (typeof SCENARIOS)[number]

export const IMPLS = ["raw", "platform", "effect-tcp"] as const
export type Impl = (typeof IMPLS)[number]

export interface BulkParams {
  /** bytes the client sends after the 8-byte big-endian length header */
  readonly bytes: number
  readonly chunk: number
}
export interface EchoParams {
  readonly warmup: number
  readonly count: number
  readonly size: number
}
export interface ChurnParams {
  readonly count: number
}
export interface LinesParams {
  readonly count: number
  readonly chunk: number
}
export interface FramesParams {
  readonly count: number
  readonly chunk: number
}
export interface ConcParams {
  readonly connections: number
  readonly roundTrips: number
  readonly size: number
}
export interface AcceptParams {
  /** connections the client opens at once */
  readonly connections: number
}
export interface IdleParams {
  /** connections the client opens and then holds */
  readonly connections: number
  /** connects in flight at once while opening them */
  readonly concurrency: number
}
export interface BackpressureParams {
  readonly maxBytes: number
  readonly windowMs: number
  readonly chunk: number
}

export interface ScenarioParams {
  readonly bulk: BulkParams
  readonly echo: EchoParams
  readonly churn: ChurnParams
  readonly lines: LinesParams
  readonly frames: FramesParams
  readonly conc: ConcParams
  readonly backpressure: BackpressureParams
  readonly accept: AcceptParams
  readonly idle: IdleParams
}

const KiB = 1024
const MiB = 1024 * KiB

export const defaultParams: ScenarioParams = {
  bulk: { bytes: 1024 * MiB, chunk: 64 * KiB },
  echo: { warmup: 2_000, count: 20_000, size: 32 },
  churn: { count: 20_000 },
  lines: { count: 5_000_000, chunk: 64 * KiB },
  frames: { count: 2_000_000, chunk: 64 * KiB },
  conc: { connections: 1_000, roundTrips: 100, size: 32 },
  backpressure: { maxBytes: 512 * MiB, windowMs: 6_000, chunk: 64 * KiB },
  accept: { connections: 10_000 },
  idle: { connections: 5_000, concurrency: 100 }
}

export const smokeParams: ScenarioParams = {
  bulk: { bytes: 4 * MiB + 123, chunk: 64 * KiB },
  echo: { warmup: 20, count: 200, size: 32 },
  churn: { count: 50 },
  lines: { count: 20_000, chunk: 64 * KiB },
  frames: { count: 20_000, chunk: 64 * KiB },
  conc: { connections: 20, roundTrips: 10, size: 32 },
  backpressure: { maxBytes: 16 * MiB, windowMs: 500, chunk: 64 * KiB },
  accept: { connections: 50 },
  idle: { connections: 50, concurrency: 10 }
}

/** What a child process is told on its command line. */
export interface ChildConfig {
  readonly role: "server" | "client"
  readonly impl: Impl
  readonly scenario: Scenario
  readonly params: ScenarioParams[Scenario]
  /** the child exits with an error after this many milliseconds, whatever it is doing */
  readonly deadlineMs: number
  /** listen backlog every server is given (absent: each library's own default) */
  readonly backlog?: number
  /** a server on this many node:cluster worker processes sharing its port (absent: one process) */
  readonly workers?: number
  /**
   * Over TLS (`--tls`): the server's key and self-signed certificate (PEM) for 127.0.0.1, which
   * the client trusts as its only CA.
   */
  readonly tls?: { readonly key: string; readonly cert: string }
}

// ---------------------------------------------------------------------------------------------
// bulk: client -> server: u64 BE length N, then N bytes. server -> client: one ack byte after the
// N-th byte, whose value is derived from the number of bytes the server counted.

export const bulkAck = (received: number): number => 1 + (received % 251)

export const bulkHeader = (n: number): Uint8Array => {
  const header = Buffer.alloc(8)
  header.writeBigUInt64BE(BigInt(n))
  return header
}

export const readBulkHeader = (header: Uint8Array): number =>
  Number(Buffer.from(header.buffer, header.byteOffset, 8).readBigUInt64BE())

/** A constant payload chunk; never mutated, so every implementation may hand it to write(). */
export const bulkChunk = (size: number): Uint8Array => Buffer.alloc(size, 0x61)

// ---------------------------------------------------------------------------------------------
// echo / conc / churn / backpressure / accept / idle: the server writes back every byte it reads.

/** Message `seq` of an echo exchange: the sequence number, then filler derived from it. */
export const echoMessage = (seq: number, size: number, into: Buffer = Buffer.alloc(size)): Buffer => {
  into.writeUInt32BE(seq >>> 0, 0)
  for (let i = 4; i < size; i++) into[i] = (seq + i) & 0xff
  return into
}

// accept: the client opens `connections` connections at once; each writes one byte (its index
// modulo 256) and waits for the echo; the run ends when every connection has its echo.
// idle: the client opens `connections` connections (`concurrency` connects in flight), each
// exchanges one byte as in accept, and then holds them open, idle, until told to exit.

/** The byte connection `i` of churn, accept and idle sends (and expects back). */
export const connectionByte = (i: number): number => i & 0xff

// ---------------------------------------------------------------------------------------------
// backpressure: byte k of the stream is k % 251, so the client can verify what it gets back.

export const PATTERN_MOD = 251

/** A buffer from which `patternChunk` cuts position-correct chunks without copying. */
export const patternSource = (chunk: number): Buffer => {
  const b = Buffer.alloc(chunk + PATTERN_MOD)
  for (let i = 0; i < b.length; i++) b[i] = i % PATTERN_MOD
  return b
}

export const patternChunk = (source: Buffer, offset: number, length: number): Buffer => {
  const start = offset % PATTERN_MOD
  return source.subarray(start, start + length)
}

/** Checks bytes received at stream offset `offset`; returns the index of the first bad byte or -1. */
export const checkPattern = (bytes: Uint8Array, offset: number): number => {
  let expected = offset % PATTERN_MOD
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== expected) return i
    expected = expected === PATTERN_MOD - 1 ? 0 : expected + 1
  }
  return -1
}

// ---------------------------------------------------------------------------------------------
// lines: the client sends `count` non-empty ASCII lines of 30..50 bytes (LF-terminated), then an
// empty line as terminator. The server answers "<count> <sum of line lengths>\n".

const CYCLE_LINES = 997

export interface LinesSource {
  /** the cycle of lines repeated enough times that any window of `chunk` bytes is available */
  readonly buffer: Buffer
  readonly cycleBytes: number
  /** total bytes of the `count` lines, LF included, terminator excluded */
  readonly totalBytes: number
  readonly expectedCount: number
  readonly expectedLength: number
}

export const linesSource = (count: number, chunk: number): LinesSource => {
  const lines: Array<string> = []
  let seed = 12345
  for (let i = 0; i < CYCLE_LINES; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const len = 30 + (seed % 21)
    const head = `line ${i} `
    let s = head
    while (s.length < len) s += String.fromCharCode(97 + ((seed >> 3) + s.length) % 26)
    lines.push(s)
  }
  const cycle = Buffer.from(lines.join("\n") + "\n", "latin1")
  const cycleBytes = cycle.length
  const copies = Math.ceil((chunk + cycleBytes) / cycleBytes) + 1
  const buffer = Buffer.concat(Array.from({ length: copies }, () => cycle))
  let totalBytes = 0
  let expectedLength = 0
  const full = Math.floor(count / CYCLE_LINES)
  const cycleLength = lines.reduce((n, l) => n + l.length, 0)
  totalBytes += full * cycleBytes
  expectedLength += full * cycleLength
  for (let i = 0; i < count % CYCLE_LINES; i++) {
    totalBytes += lines[i]!.length + 1
    expectedLength += lines[i]!.length
  }
  return { buffer, cycleBytes, totalBytes, expectedCount: count, expectedLength }
}

/** Chunk of the line stream at byte `offset`, at most `length` bytes, without copying. */
export const linesChunk = (source: LinesSource, offset: number, length: number): Buffer => {
  const start = offset % source.cycleBytes
  return source.buffer.subarray(start, start + Math.min(length, source.totalBytes - offset))
}

export const linesAck = (count: number, length: number): string => `${count} ${length}\n`

// ---------------------------------------------------------------------------------------------
// frames: the client sends `count` frames (a 4-byte big-endian length, then a body of 16..271
// bytes) in `chunk`-byte writes cut across frames, then a zero-length frame as terminator. The
// server answers "<count> <sum of body lengths> <checksum>\n", the checksum being the sum, mod
// 2^32, of each body's first and last byte: every byte of every header and body is looked at.

export interface FramesSource extends LinesSource {
  readonly expectedChecksum: number
}

export const framesSource = (count: number, chunk: number): FramesSource => {
  const frames: Array<Buffer> = []
  let seed = 54321
  for (let i = 0; i < CYCLE_LINES; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const body = Buffer.alloc(16 + (seed % 256), (seed >> 8) & 0xff)
    body[0] = i & 0xff
    const frame = Buffer.alloc(4 + body.length)
    frame.writeUInt32BE(body.length)
    body.copy(frame, 4)
    frames.push(frame)
  }
  const cycle = Buffer.concat(frames)
  const cycleBytes = cycle.length
  const copies = Math.ceil((chunk + cycleBytes) / cycleBytes) + 1
  const buffer = Buffer.concat(Array.from({ length: copies }, () => cycle))
  let totalBytes = 0
  let expectedLength = 0
  let expectedChecksum = 0
  for (let i = 0; i < count; i++) {
    const frame = frames[i % CYCLE_LINES]!
    totalBytes += frame.length
    expectedLength += frame.length - 4
    expectedChecksum = (expectedChecksum + frame[4]! + frame[frame.length - 1]!) >>> 0
  }
  return { buffer, cycleBytes, totalBytes, expectedCount: count, expectedLength, expectedChecksum }
}

export const framesAck = (count: number, length: number, checksum: number): string => `${count} ${length} ${checksum}\n`

export const framesTerminator: Uint8Array = new Uint8Array(4)

/**
 * The hand-written length-prefix parser a careful engineer writes for `node:net`: parses the
 * frames of each chunk in place, carrying an incomplete frame to the next chunk.
 */
export class FrameCounter {
  count = 0
  length = 0
  checksum = 0
  done = false
  private carry: Buffer | undefined = undefined

  /** Feeds a chunk; answers the ack once the terminator has been seen. */
  push(chunk: Buffer): string | undefined {
    if (this.done) return undefined
    let buf = chunk
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, chunk])
      this.carry = undefined
    }
    let pos = 0
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos)
      if (buf.length - pos - 4 < len) break
      if (len === 0) {
        this.done = true
        return framesAck(this.count, this.length, this.checksum)
      }
      const body = pos + 4
      this.count++
      this.length += len
      this.checksum = (this.checksum + buf[body]! + buf[body + len - 1]!) >>> 0
      pos = body + len
    }
    if (pos < buf.length) this.carry = buf.subarray(pos)
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics the clients report.

export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export const latencySummary = (samplesUs: Float64Array) => {
  const sorted = Float64Array.from(samplesUs).sort()
  return { p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), maxUs: sorted[sorted.length - 1] ?? NaN }
}

/** The result line a client prints when its measured part is done. */
export interface ClientResult {
  readonly ok: boolean
  /** what was checked, and what went wrong if `ok` is false */
  readonly check: string
  readonly elapsedMs: number
  readonly metrics: Readonly<Record<string, number>>
}
