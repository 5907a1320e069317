/**
 * Copying bytes between connections: one direction (`copy`), and both at once with half-close
 * propagated (`bidirectional`, tokio's `copy_bidirectional`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Copy from "../Copy.js"
import * as Reader from "../Reader.js"
import { InvalidArgument, type ReadError, type WriteError } from "../TcpError.js"
import * as Writer from "../Writer.js"

const isReader = (value: unknown): value is Reader.Reader =>
  typeof value === "object" && value !== null && Reader.TypeId in value

const isWriter = (value: unknown): value is Writer.Writer =>
  typeof value === "object" && value !== null && Writer.TypeId in value

const invalid = (argument: string, message: string) =>
  Exit.fail(new InvalidArgument({ argument, message: `${argument}: ${message}` }))

/**
 * Reads what has arrived and writes it, until the end of stream; the count of bytes copied.
 * Back-pressure both ways: a read waits for bytes (the peer's socket is paused while the reader's
 * buffer is full), a write waits while the writer's buffer is full (and then nothing is read).
 */
const pump = (
  reader: Reader.Reader,
  writer: Writer.Writer
): Effect.Effect<number, ReadError | WriteError | InvalidArgument> =>
  Effect.suspend(() => {
    let count = 0
    const loop: Effect.Effect<number, ReadError | WriteError | InvalidArgument> = Effect.flatMap(
      reader.read(),
      (bytes) => {
        if (Option.isNone(bytes)) return Effect.succeed(count)
        count += bytes.value.byteLength
        return Effect.zipRight(writer.write(bytes.value), loop)
      }
    )
    return loop
  })

export const copy = (
  reader: Reader.Reader,
  writer: Writer.Writer
): Effect.Effect<number, ReadError | WriteError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<number, ReadError | WriteError | InvalidArgument> => {
    if (!isReader(reader)) return invalid("reader", "expected a Reader")
    if (!isWriter(writer)) return invalid("writer", "expected a Writer")
    return pump(reader, writer)
  })

const isEnds = (value: unknown): value is Copy.Ends =>
  typeof value === "object" && value !== null && isReader((value as Copy.Ends).reader) &&
  isWriter((value as Copy.Ends).writer)

/** One direction: copy, then flush and half-close the destination (its FIN tells the peer). */
const oneWay = (from: Copy.Ends, to: Copy.Ends): Effect.Effect<number, ReadError | WriteError | InvalidArgument> =>
  Effect.flatMap(
    pump(from.reader, to.writer),
    (count) => Effect.flatMap(to.writer.flushed, () => Effect.as(to.writer.close, count))
  )

export const bidirectional = (
  a: Copy.Ends,
  b: Copy.Ends
): Effect.Effect<Copy.Copied, ReadError | WriteError | InvalidArgument> =>
  Effect.suspend((): Effect.Effect<Copy.Copied, ReadError | WriteError | InvalidArgument> => {
    if (!isEnds(a)) return invalid("a", "expected a connection (with reader and writer)")
    if (!isEnds(b)) return invalid("b", "expected a connection (with reader and writer)")
    if (a === b) return invalid("b", "expected a connection other than a")
    // Both directions run concurrently; the first failure interrupts the other and is returned.
    return Effect.map(
      Effect.all([oneWay(a, b), oneWay(b, a)], { concurrency: 2 }),
      ([aToB, bToA]): Copy.Copied => ({ aToB, bToA })
    )
  })
