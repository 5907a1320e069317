/**
 * `etcp send` and `etcp receive`: bulk transfer of a file, with a progress bar (bytes, rate,
 * ETA) on standard error when it is a terminal and a one-line summary at the end.
 *
 * The bytes on the wire are the file's bytes, nothing else, so the other end can be any netcat
 * (`nc -l 9000 > file`, `socat -u TCP-LISTEN:9000 CREATE:file`).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Address, Tcp } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import type { Writable } from "node:stream"
import { hostPortArgs, timeoutOption } from "./connect.js"
import { download, upload } from "./exchange.js"
import { CliFailure, ExitCode, usage } from "./exit.js"
import { hostOption, portOption, serve } from "./listen.js"
import * as Progress from "./progress.js"
import { fromReadable, fromWritable, type Input } from "./stdio.js"
import { timeoutMillis, unixOption, whereToConnect, whereToListen } from "./target.js"

/**
 * Parses a byte count with an optional suffix: `1500`, `64k`, `10M`, `1G` (decimal), `64Ki`,
 * `10Mi`, `1Gi` (binary).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSize = (text: string): Option.Option<number> => {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(k|K|M|G|Ki|Mi|Gi|KiB|MiB|GiB)?B?$/.exec(text.trim())
  if (m === null) return Option.none()
  const unit = (m[2] ?? "").replace(/B$/, "")
  const multiplier: Record<string, number> = {
    "": 1,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3
  }
  const n = Math.round(Number(m[1]) * (multiplier[unit] ?? 1))
  return n > 0 ? Option.some(n) : Option.none()
}

const limitRateOption = Options.text("limit-rate").pipe(
  Options.withPseudoName("BYTES"),
  Options.withDescription("Send at most BYTES per second (suffixes k M G, or Ki Mi Gi), e.g. 512Ki."),
  Options.optional
)

/** Slows `input` down to `rate` bytes per second (averaged from the start). */
const throttle = (input: Input, rate: number): Input => {
  let start: number | undefined
  let sent = 0
  return {
    pull: Effect.gen(function*() {
      start ??= performance.now()
      const ahead = (sent / rate) * 1000 - (performance.now() - start)
      if (ahead > 0) yield* Effect.sleep(ahead)
      const chunk = yield* input.pull
      if (Option.isSome(chunk)) sent += chunk.value.length
      return chunk
    })
  }
}

const openFile = (file: string, chunkSize: number) =>
  Effect.tryPromise({
    try: async () => {
      if (file === "-") {
        const stat = fs.fstatSync(0)
        return { stream: process.stdin, size: stat.isFile() ? stat.size : undefined, name: "standard input" }
      }
      const handle = await fs.promises.open(file, "r")
      const stat = await handle.stat()
      if (!stat.isFile()) {
        await handle.close()
        throw Object.assign(new Error("not a regular file"), { code: "EISDIR" })
      }
      return {
        stream: handle.createReadStream({ highWaterMark: chunkSize }),
        size: stat.size,
        name: file
      }
    },
    catch: (cause) =>
      new CliFailure({
        message: `cannot read ${file}: ${(cause as Error).message}`,
        code: ExitCode.Failure
      })
  }).pipe(Effect.acquireRelease(({ stream }) => Effect.sync(() => stream !== process.stdin && stream.destroy())))

const sendDescription =
  `Send FILE to HOST PORT (or a Unix socket), then half-close and wait until the receiver closes the connection, which confirms it has everything. Anything the receiver sends back is copied to standard output.

On a terminal, standard error shows a progress bar (bytes, rate, ETA); otherwise one summary line at the end. FILE "-" is standard input.

Exit status: as etcp connect (0 done, 1 error during the transfer, 2 bad usage, 3 refused, 4 timed out, 5 host not found, 6 unreachable, 7 other connect failure).

Examples:
  etcp send backup.tar 192.168.1.20 9000
  etcp send --limit-rate 10Mi big.iso localhost 9000
  etcp send data.bin --unix /tmp/upload.sock
  tar c dir | etcp send - host 9000`

/**
 * The `send` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const sendCommand = Command.make(
  "send",
  {
    file: Args.text({ name: "file" }).pipe(Args.withDescription("The file to send (\"-\" for standard input).")),
    target: hostPortArgs,
    unix: unixOption,
    timeout: timeoutOption,
    limitRate: limitRateOption
  },
  (config) =>
    Effect.scoped(Effect.gen(function*() {
      const where = yield* whereToConnect({
        positional: Option.getOrElse(config.target, () => [] as ReadonlyArray<string>),
        unix: config.unix
      })
      const timeout = yield* timeoutMillis(config.timeout)
      const rate = yield* Option.match(config.limitRate, {
        onNone: () => Effect.succeed(undefined),
        onSome: (text) =>
          Option.match(parseSize(text), {
            onNone: () => Effect.fail(usage(`invalid --limit-rate ${JSON.stringify(text)}: expected e.g. 500k, 10Mi`)),
            onSome: (n) => Effect.succeed(n)
          })
      })
      const chunkSize = rate === undefined ? 64 * 1024 : Math.max(1024, Math.min(64 * 1024, Math.floor(rate / 20)))
      const file = yield* openFile(config.file, chunkSize)
      const connection = yield* Tcp.connect(where, timeout === undefined ? {} : { timeout })
      const peer = Address.format(connection.socket.remoteAddress)
      let input: Input = fromReadable(file.stream, file.name)
      if (rate !== undefined) input = throttle(input, rate)
      const progress = yield* Progress.make({ label: "sending", total: file.size })
      // The receiver closes once it has read everything (our FIN); until then, print its replies.
      yield* Effect.all([
        upload(connection, input, progress.add),
        download(connection, fromWritable(process.stdout, "standard output"))
      ], { concurrency: 2 })
      yield* progress.finish((done, seconds) =>
        `sent ${Progress.formatBytes(done)} (${done} bytes) in ${seconds.toFixed(2)} s (${
          Progress.formatRate(done, seconds)
        }) to ${peer}`
      )
    }))
).pipe(Command.withDescription(sendDescription))

const outputOption = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withPseudoName("FILE"),
  Options.withDescription("Write to FILE instead of standard output."),
  Options.optional
)

const receiveDescription =
  `Listen on a TCP port (or a Unix socket), accept one sender, and write what it sends to standard output (or --output FILE) until it closes its side; then close and exit.

On a terminal, standard error shows the bytes received and the rate as they arrive; otherwise one summary line at the end. The port is printed on standard error ("etcp: listening on port N").

Exit status: 0 done, 1 error during the transfer, 2 bad usage, 8 cannot listen, 130 interrupted.

Examples:
  etcp receive --port 9000 > backup.tar
  etcp receive --port 9000 --host 127.0.0.1 --output big.iso
  etcp receive --unix /tmp/upload.sock > data.bin`

/**
 * The `receive` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const receiveCommand = Command.make(
  "receive",
  {
    port: portOption,
    host: hostOption,
    unix: unixOption,
    output: outputOption
  },
  (config) =>
    Effect.scoped(Effect.gen(function*() {
      const where = yield* whereToListen(config)
      const out = yield* Option.match(config.output, {
        onNone: () => Effect.succeed<Writable>(process.stdout),
        onSome: (path) =>
          Effect.acquireRelease(
            Effect.try({
              try: () => fs.createWriteStream(path, { fd: fs.openSync(path, "w") }),
              catch: (cause) =>
                new CliFailure({ message: `cannot write ${path}: ${(cause as Error).message}`, code: ExitCode.Failure })
            }),
            (stream) => Effect.async<void>((resume) => void stream.end(() => resume(Effect.void)))
          )
      })
      const output = fromWritable(out, Option.getOrElse(config.output, () => "standard output"))
      yield* serve({
        where,
        keepOpen: false,
        maxConnections: 1,
        verbose: false,
        handler: (connection) =>
          Effect.scoped(Effect.gen(function*() {
            const peer = Address.format(connection.socket.remoteAddress) || "a Unix client"
            const progress = yield* Progress.make({ label: "receiving", total: undefined })
            yield* download(connection, output, progress.add)
            yield* connection.writer.close
            yield* progress.finish((done, seconds) =>
              `received ${Progress.formatBytes(done)} (${done} bytes) in ${seconds.toFixed(2)} s (${
                Progress.formatRate(done, seconds)
              }) from ${peer}`
            )
          }))
      })
    }))
).pipe(Command.withDescription(receiveDescription))
