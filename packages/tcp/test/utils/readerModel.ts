/**
 * A reference model of the reader: the same operations, on the whole input at once. Results are
 * rendered as plain strings so that a real reader and the model can be compared with `deepEqual`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import * as Reader from "../../src/Reader.js"
import type { InvalidArgument, ReadError } from "../../src/TcpError.js"

export type Op =
  | { readonly _tag: "ReadLine" }
  | { readonly _tag: "ReadUntil"; readonly delimiter: string; readonly keep: boolean }
  | { readonly _tag: "ReadExactly"; readonly n: number }
  | { readonly _tag: "Peek"; readonly n: number }
  | { readonly _tag: "ReadByte" }
  | { readonly _tag: "Read"; readonly max: number }
  | { readonly _tag: "Chunks"; readonly need: number }

export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

const LF = 0x0a
const CR = 0x0d

/** Delimiters that matter: line ends, a self-overlapping one, a multi-byte one. */
export const delimiters = ["\n", "\r\n", ",", "ab", "aab", "é", "--"] as const

/** Pieces of input rich in what the framing cares about. */
const fragment: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom("\n", "\r\n", "\r", "a", "b", "ab", "aab", ",", "-", "é", "€", "😀", "x").map((s) =>
      Buffer.from(s)
    )
  },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) }
)

/** Some input bytes. */
export const input = (maxFragments = 40): fc.Arbitrary<Uint8Array> =>
  fc.array(fragment, { maxLength: maxFragments }).map((parts) => Buffer.concat(parts))

/** Input and a way to cut it into chunks (the cut points, sorted, may repeat: empty chunks). */
export const chunked = (
  maxFragments = 40,
  maxCuts = 30
): fc.Arbitrary<{ data: Uint8Array; chunks: Array<Uint8Array> }> =>
  input(maxFragments).chain((data) =>
    fc.array(fc.nat({ max: data.byteLength }), { maxLength: Math.min(maxCuts, data.byteLength + 1) }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), data.byteLength]
      const chunks: Array<Uint8Array> = []
      for (let i = 1; i < points.length; i++) chunks.push(data.subarray(points[i - 1], points[i]))
      return { data, chunks }
    })
  )

export const op = (maxPeek: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant<Op>({ _tag: "ReadLine" }) },
    {
      weight: 3,
      arbitrary: fc.record({ delimiter: fc.constantFrom(...delimiters), keep: fc.boolean() }).map((r): Op => ({
        _tag: "ReadUntil",
        ...r
      }))
    },
    { weight: 2, arbitrary: fc.nat({ max: 12 }).map((n): Op => ({ _tag: "ReadExactly", n })) },
    { weight: 2, arbitrary: fc.nat({ max: maxPeek }).map((n): Op => ({ _tag: "Peek", n })) },
    { weight: 1, arbitrary: fc.constant<Op>({ _tag: "ReadByte" }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 }).map((max): Op => ({ _tag: "Read", max })) },
    { weight: 1, arbitrary: fc.nat({ max: 10 }).map((need): Op => ({ _tag: "Chunks", need })) }
  )

const indexOf = (data: Uint8Array, needle: Uint8Array, from: number): number =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(Buffer.from(needle), from)

const decode = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8")

/** The reference: every operation on the whole input. */
export class Model {
  pos = 0
  constructor(readonly data: Uint8Array) {}

  private get rest(): number {
    return this.data.byteLength - this.pos
  }

  /** The expected result of `op`; `Read` is special (its length depends on chunking): see `checkRead`. */
  apply(op: Exclude<Op, { _tag: "Read" }>): string {
    const data = this.data
    switch (op._tag) {
      case "ReadLine": {
        if (this.rest === 0) return "line:none"
        const lf = data.indexOf(LF, this.pos)
        if (lf === -1) {
          const line = data.subarray(this.pos)
          this.pos = data.byteLength
          return `line:${decode(line)}`
        }
        const end = lf > this.pos && data[lf - 1] === CR ? lf - 1 : lf
        const line = data.subarray(this.pos, end)
        this.pos = lf + 1
        return `line:${decode(line)}`
      }
      case "ReadUntil": {
        const delimiter = Buffer.from(op.delimiter)
        const at = indexOf(data, delimiter, this.pos)
        if (at !== -1) {
          const bytes = data.subarray(this.pos, op.keep ? at + delimiter.byteLength : at)
          this.pos = at + delimiter.byteLength
          return `found:${hex(bytes)}`
        }
        if (this.rest === 0) return "eof"
        const bytes = data.subarray(this.pos)
        this.pos = data.byteLength
        return `eofWithout:${hex(bytes)}`
      }
      case "ReadExactly": {
        if (this.rest >= op.n) {
          const bytes = data.subarray(this.pos, this.pos + op.n)
          this.pos += op.n
          return `exactly:${hex(bytes)}`
        }
        const partial = data.subarray(this.pos)
        this.pos = data.byteLength
        return `unexpectedEof:${hex(partial)}`
      }
      case "Peek":
        return this.rest >= op.n ? `peek:${hex(data.subarray(this.pos, this.pos + op.n))}` : "peek:none"
      case "ReadByte": {
        if (this.rest === 0) return "byte:none"
        return `byte:${data[this.pos++]}`
      }
      case "Chunks": {
        if (this.rest === 0 || this.rest < op.need) {
          const bytes = data.subarray(this.pos)
          this.pos = data.byteLength
          return `chunksEof:${hex(bytes)}`
        }
        const bytes = data.subarray(this.pos, this.pos + op.need)
        this.pos += op.need
        return `stopped:${hex(bytes)}`
      }
    }
  }

  /** Checks what `read(max)` returned (some prefix of what is left, 1..max bytes) and consumes it. */
  checkRead(max: number, got: Option.Option<Uint8Array>): string | undefined {
    if (Option.isNone(got)) return this.rest === 0 ? undefined : `read: none with ${this.rest} bytes left`
    const bytes = got.value
    if (bytes.byteLength < 1 || bytes.byteLength > max) return `read: ${bytes.byteLength} bytes, max ${max}`
    const expected = this.data.subarray(this.pos, this.pos + bytes.byteLength)
    if (hex(expected) !== hex(bytes)) return `read: got ${hex(bytes)}, expected ${hex(expected)}`
    this.pos += bytes.byteLength
    return undefined
  }

  rest_(): string {
    return hex(this.data.subarray(this.pos))
  }
}

/** Runs one operation on a real reader, rendered as the model renders it. */
export const run = (
  reader: Reader.Reader,
  op: Exclude<Op, { _tag: "Read" }>
): Effect.Effect<string, ReadError | InvalidArgument> => {
  switch (op._tag) {
    case "ReadLine":
      return Effect.map(reader.readLine, Option.match({ onNone: () => "line:none", onSome: (line) => `line:${line}` }))
    case "ReadUntil":
      return Effect.map(reader.readUntil(op.delimiter, { keepDelimiter: op.keep }), (result) => {
        switch (result._tag) {
          case "Found":
            return `found:${hex(result.bytes)}`
          case "EofWithoutDelimiter":
            return `eofWithout:${hex(result.bytes)}`
          case "Eof":
            return "eof"
        }
      })
    case "ReadExactly":
      return reader.readExactly(op.n).pipe(
        Effect.map((bytes) => `exactly:${hex(bytes)}`),
        Effect.catchTag(
          "ReadError",
          (error) =>
            error.reason === "UnexpectedEof"
              ? Effect.succeed(`unexpectedEof:${hex(error.partial ?? new Uint8Array())}`)
              : Effect.fail(error)
        )
      )
    case "Peek":
      return Effect.map(reader.peek(op.n), Option.match({ onNone: () => "peek:none", onSome: (b) => `peek:${hex(b)}` }))
    case "ReadByte":
      return Effect.map(reader.readByte, Option.match({ onNone: () => "byte:none", onSome: (b) => `byte:${b}` }))
    case "Chunks":
      return Effect.suspend(() => {
        let remaining = op.need
        const parts: Array<Buffer> = []
        return Effect.map(
          reader.readChunks((chunk): Reader.ChunkResult<Buffer> => {
            if (chunk.byteLength < remaining) {
              parts.push(Buffer.from(chunk))
              remaining -= chunk.byteLength
              return Reader.Continue
            }
            parts.push(Buffer.from(chunk.subarray(0, remaining)))
            const n = remaining
            remaining = 0
            return Reader.StopConsumed(Buffer.concat(parts), n)
          }),
          (end) =>
            end._tag === "Stopped"
              ? `stopped:${hex(end.value)}`
              : `chunksEof:${
                hex(Buffer.concat([...parts, ...(end._tag === "EofWithUnconsumed" ? [Buffer.from(end.bytes)] : [])]))
              }`
        )
      })
  }
}

/**
 * Runs `ops` on `reader` and on the model, then reads the rest with `readAll`; fails with a
 * description of the first difference.
 */
export const compare = (
  reader: Reader.Reader,
  data: Uint8Array,
  ops: ReadonlyArray<Op>
): Effect.Effect<void, ReadError | InvalidArgument | Error> =>
  Effect.gen(function*() {
    const model = new Model(data)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      if (op._tag === "Read") {
        const got = yield* reader.read(op.max)
        const problem = model.checkRead(op.max, got)
        if (problem !== undefined) return yield* Effect.fail(new Error(`op ${i} ${JSON.stringify(op)}: ${problem}`))
        continue
      }
      const expected = model.apply(op)
      const actual = yield* run(reader, op)
      if (actual !== expected) {
        return yield* Effect.fail(
          new Error(
            `op ${i} ${JSON.stringify(op)}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`
          )
        )
      }
    }
    const rest = hex(yield* reader.readAll)
    if (rest !== model.rest_()) return yield* Effect.fail(new Error(`readAll: got ${rest}, expected ${model.rest_()}`))
  })
