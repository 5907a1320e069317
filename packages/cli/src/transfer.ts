/**
 * `etcp send` and `etcp receive`: bulk transfer of a file, with a progress bar (bytes, rate,
 * ETA) on standard error when it is a terminal and a one-line summary at the end.
 *
 * The bytes on the wire are the file's bytes, nothing else, so the other end can be any netcat
 * (`nc -l 9000 > file`, `socat -u TCP-LISTEN:9000 CREATE:file`).
 *
 * @since 0.1.0
 */
import * as Address from "effect-tcp/Address"
import * as Tcp from "effect-tcp/Tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import type { Writable } from "node:stream"
import type * as Args from "./args.js"
import type * as Commands from "./commands.js"
import { download, upload } from "./exchange.js"
import { CliFailure, ExitCode, usage } from "./exit.js"
import { serve } from "./listen.js"
import * as Progress from "./progress.js"
import { fromReadable, fromWritable, type Input } from "./stdio.js"
import { timeoutMillis, whereToConnect, whereToListen } from "./target.js"

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

/**
 * Runs `etcp send`.
 *
 * @since 0.2.0
 * @category commands
 */
export const runSend = ({ args, options: config }: Args.Parsed<typeof Commands.send.options>) =>
  Effect.scoped(Effect.gen(function*() {
    const [fileName, ...target] = args
    if (fileName === undefined) return yield* Effect.fail(usage("expected FILE (\"-\" for standard input)"))
    const where = yield* whereToConnect({ positional: target, unix: config.unix })
    const timeout = yield* timeoutMillis(config.timeout)
    const limitRate = config.limitRate
    const rate = limitRate === undefined ? undefined : Option.getOrUndefined(parseSize(limitRate))
    if (limitRate !== undefined && rate === undefined) {
      return yield* Effect.fail(usage(`invalid --limit-rate ${JSON.stringify(limitRate)}: expected e.g. 500k, 10Mi`))
    }
    const chunkSize = rate === undefined ? 64 * 1024 : Math.max(1024, Math.min(64 * 1024, Math.floor(rate / 20)))
    const file = yield* openFile(fileName, chunkSize)
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

/**
 * Runs `etcp receive`.
 *
 * @since 0.2.0
 * @category commands
 */
export const runReceive = ({ options: config }: Args.Parsed<typeof Commands.receive.options>) =>
  Effect.scoped(Effect.gen(function*() {
    const where = yield* whereToListen(config)
    const path = config.output
    const out = path === undefined
      ? process.stdout as Writable
      : yield* Effect.acquireRelease(
        Effect.try({
          try: () => fs.createWriteStream(path, { fd: fs.openSync(path, "w") }),
          catch: (cause) =>
            new CliFailure({ message: `cannot write ${path}: ${(cause as Error).message}`, code: ExitCode.Failure })
        }),
        (stream) => Effect.async<void>((resume) => void stream.end(() => resume(Effect.void)))
      )
    const output = fromWritable(out, path ?? "standard output")
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
