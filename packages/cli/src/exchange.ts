/**
 * The netcat loop shared by `connect` and `listen`: local input to the socket, the socket to
 * local output, half-close when the input ends.
 *
 * @since 0.1.0
 */
import type { Address, Connection, TcpError } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Input, InputError, Output, OutputError } from "./stdio.js"

/**
 * Copies `input` to the connection until the input ends, then half-closes (`writer.close`,
 * a FIN: the peer sees end of stream and may still answer). Counts what it sends.
 *
 * @since 0.1.0
 * @category combinators
 */
export const upload = <A extends Address.Address>(
  connection: Connection.Connection<A>,
  input: Input,
  onBytes: (n: number) => void = () => {}
): Effect.Effect<void, InputError | TcpError.WriteError | TcpError.InvalidArgument> =>
  Effect.gen(function*() {
    while (true) {
      const chunk = yield* input.pull
      if (Option.isNone(chunk)) break
      yield* connection.writer.write(chunk.value)
      onBytes(chunk.value.length)
    }
    yield* connection.writer.flushed
    yield* connection.writer.close
  })

/**
 * Copies the connection to `output` until the peer closes (end of stream) or the output's reader
 * goes away. Counts what it receives.
 *
 * @since 0.1.0
 * @category combinators
 */
export const download = <A extends Address.Address>(
  connection: Connection.Connection<A>,
  output: Output,
  onBytes: (n: number) => void = () => {}
): Effect.Effect<void, OutputError | TcpError.ReadError> =>
  Effect.gen(function*() {
    while (true) {
      const chunk = yield* connection.reader.read()
      if (Option.isNone(chunk)) break
      onBytes(chunk.value.length)
      if ((yield* output.write(chunk.value)) === "Closed") break
    }
    yield* output.flush
  })

/**
 * Both directions at once. The exchange ends when the download ends (the peer closed its side,
 * or our output went away); an upload that stops because the peer left is not an error, since
 * the download reports how the connection ended.
 *
 * @since 0.1.0
 * @category combinators
 */
export const exchange = <A extends Address.Address>(
  connection: Connection.Connection<A>,
  input: Input,
  output: Output
): Effect.Effect<
  void,
  InputError | OutputError | TcpError.ReadError | TcpError.WriteError | TcpError.InvalidArgument
> => {
  const up = upload(connection, input).pipe(
    Effect.catchIf(
      (e) => e._tag === "WriteError" && (e.reason === "ConsumerLeft" || e.reason === "Closed"),
      () => Effect.void
    ),
    Effect.zipRight(Effect.never)
  )
  return Effect.raceFirst(download(connection, output), up)
}

/**
 * Sends a client back everything it sends, then half-closes when it half-closes.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo = <A extends Address.Address>(
  connection: Connection.Connection<A>
): Effect.Effect<void, TcpError.ReadError | TcpError.WriteError | TcpError.InvalidArgument> =>
  Effect.gen(function*() {
    while (true) {
      const chunk = yield* connection.reader.read()
      if (Option.isNone(chunk)) break
      yield* connection.writer.write(chunk.value)
    }
    yield* connection.writer.close
  })
