// effect-tcp, written the way its README tells users to: only the package's public exports,
// Tcp.connect / Server.make with the reader's and writer's own operations.
import {
  BindToAddress,
  BindToPort,
  type Connection,
  Framing,
  Reader,
  Server,
  ServerCluster,
  Tcp,
  WhereToConnect,
  WhereToListen
} from "effect-tcp"
import type { Address } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { counters } from "../control.js"
import {
  bulkAck,
  bulkChunk,
  bulkHeader,
  type BulkParams,
  type ChildConfig,
  type ChurnParams,
  type ConcParams,
  connectionByte,
  echoMessage,
  type EchoParams,
  framesAck,
  type FramesParams,
  framesSource,
  framesTerminator,
  type IdleParams,
  latencySummary,
  linesAck,
  linesChunk,
  type LinesParams,
  linesSource,
  readBulkHeader,
  type Scenario
} from "../protocol.js"
import { type EffectClientScenario, runChild, timed } from "./effectMain.js"

type Conn = Connection.Connection<Address.Inet>

// ---------------------------------------------------------------------------------------------
// Servers

type Handler = (conn: Conn) => Effect.Effect<void, unknown>

// Request/response servers read what has arrived and write it back in a loop, as the README
// recommends (a Stream pipeline costs a channel per connection; see the README).
const echo: Handler = (conn) =>
  Effect.gen(function*() {
    for (;;) {
      const bytes = yield* conn.reader.read()
      if (Option.isNone(bytes)) return
      counters.bytesIn += bytes.value.length
      yield* conn.writer.write(bytes.value)
    }
  })

const bulk: Handler = (conn) =>
  Effect.gen(function*() {
    const expected = readBulkHeader(yield* conn.reader.readExactly(8))
    counters.bytesIn += 8
    let received = 0
    if (expected > 0) {
      const end = yield* conn.reader.readChunks((chunk) => {
        const need = expected - received
        const n = Math.min(need, chunk.length)
        received += n
        counters.bytesIn += n
        return n === need ? Reader.StopConsumed(received, n) : Reader.Continue
      })
      if (end._tag !== "Stopped") return yield* Effect.fail(new Error(`bulk: stream ended after ${received} bytes`))
    }
    yield* conn.writer.write(Uint8Array.of(bulkAck(received)))
  })

// Lines a batch at a time (readLineChunks: one decode and one split per chunk), as the README
// recommends for consuming many lines; `reader.lines` is the Stream form of the same batches.
const lines: Handler = (conn) =>
  Effect.gen(function*() {
    let count = 0
    let length = 0
    const end = yield* conn.reader.readLineChunks((batch) => {
      for (let i = 0; i < batch.length; i++) {
        const line = batch[i]!
        if (line === "") return Reader.StopConsumed(undefined, i + 1)
        count++
        length += line.length
      }
      return Reader.Continue
    })
    if (end._tag !== "Stopped") return yield* Effect.fail(new Error(`lines: stream ended after ${count} lines`))
    counters.bytesIn += yield* conn.reader.bytesRead
    yield* conn.writer.write(linesAck(count, length))
  })

// Framing.forEachFrameSync calls the handler on each frame in place (the reader's chunk, start,
// end), with nothing allocated per frame; the empty terminator frame stops it, then the reply.
const frames: Handler = (conn) =>
  Effect.gen(function*() {
    let count = 0
    let length = 0
    let checksum = 0
    let terminated = false
    yield* Framing.forEachFrameSync(conn.reader, (chunk, start, end) => {
      if (start === end) {
        terminated = true
        return false
      }
      count++
      length += end - start
      checksum = (checksum + chunk[start]! + chunk[end - 1]!) >>> 0
    })
    if (!terminated) return yield* Effect.fail(new Error(`frames: stream ended after ${count} frames`))
    counters.bytesIn += yield* conn.reader.bytesRead
    yield* conn.writer.write(framesAck(count, length, checksum))
  })

const handlers: Record<Scenario, Handler> = {
  bulk,
  echo,
  churn: echo,
  lines,
  frames,
  conc: echo,
  backpressure: echo,
  accept: echo,
  idle: echo
}

const server = (config: ChildConfig) =>
  Effect.gen(function*() {
    const handler = handlers[config.scenario]
    const where = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)
    const serve = (conn: Conn) =>
      Effect.sync(() => counters.connections++).pipe(
        Effect.zipRight(handler(conn)),
        Effect.catchAllCause(() => Effect.sync(() => counters.errors++))
      )
    const options = {
      ...(config.backlog !== undefined ? { backlog: config.backlog } : {}),
      ...(config.tls !== undefined ? { tls: { certificates: [config.tls] } } : {})
    }
    if (config.workers !== undefined) {
      // --workers: the same call forks the workers in the primary and serves in each worker.
      const group = yield* ServerCluster.make(where, serve, { ...options, workers: config.workers })
      return group.listeningOn as number
    }
    const server = yield* Server.make(where, serve, options)
    return server.listeningOn
  })

// ---------------------------------------------------------------------------------------------
// Clients

/** Connect options: `{ tls: { ca } }` with `--tls`, set once when the client starts. */
let connectOptions: Tcp.ConnectOptions = {}

const connect = (port: number) => Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", port), connectOptions)

const bulkClient = (p: BulkParams): EffectClientScenario => {
  const chunk = bulkChunk(p.chunk)
  return {
    run: (port) =>
      Effect.gen(function*() {
        const [ack, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* connect(port)
          yield* conn.writer.write(bulkHeader(p.bytes))
          for (let sent = 0; sent < p.bytes; sent += p.chunk) {
            const n = Math.min(p.chunk, p.bytes - sent)
            yield* conn.writer.write(n === p.chunk ? chunk : chunk.subarray(0, n))
          }
          return yield* conn.reader.readExactly(1)
        })))
        const expected = bulkAck(p.bytes)
        const ok = ack[0] === expected
        return {
          ok,
          check: ok ? "ack byte" : `ack ${ack[0]}, expected ${expected}`,
          elapsedMs,
          metrics: { mibPerS: p.bytes / 1048576 / (elapsedMs / 1000) }
        }
      })
  }
}

const echoClient = (p: EchoParams): EffectClientScenario => ({
  run: (port) =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connect(port)
      const samples = new Float64Array(p.count)
      const out = Buffer.alloc(p.size)
      let measureStart = performance.now()
      for (let seq = 0; seq < p.warmup + p.count; seq++) {
        if (seq === p.warmup) measureStart = performance.now()
        echoMessage(seq, p.size, out)
        const t0 = performance.now()
        yield* conn.writer.write(out)
        const reply = yield* conn.reader.readExactly(p.size)
        if (seq >= p.warmup) samples[seq - p.warmup] = (performance.now() - t0) * 1000
        if (Buffer.compare(reply, out) !== 0) return yield* Effect.fail(new Error(`echo: reply ${seq} differs`))
      }
      const elapsedMs = performance.now() - measureStart
      return {
        ok: true,
        check: `${p.warmup + p.count} replies equal their requests`,
        elapsedMs,
        metrics: { rtPerS: p.count / (elapsedMs / 1000), ...latencySummary(samples) }
      }
    }))
})

const churnClient = (p: ChurnParams): EffectClientScenario => ({
  run: (port) =>
    Effect.gen(function*() {
      const [, elapsedMs] = yield* timed(Effect.gen(function*() {
        for (let i = 0; i < p.count; i++) {
          const b = i & 0xff
          yield* Effect.scoped(Effect.gen(function*() {
            const conn = yield* connect(port)
            yield* conn.writer.write(Uint8Array.of(b))
            const reply = yield* conn.reader.readExactly(1)
            if (reply[0] !== b) return yield* Effect.fail(new Error(`churn: connection ${i} got ${reply[0]}`))
          }))
        }
      }))
      return {
        ok: true,
        check: `${p.count} one-byte echoes`,
        elapsedMs,
        metrics: { connPerS: p.count / (elapsedMs / 1000) }
      }
    })
})

const linesClient = (p: LinesParams): EffectClientScenario => {
  const source = linesSource(p.count, p.chunk)
  return {
    run: (port) =>
      Effect.gen(function*() {
        const [line, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* connect(port)
          for (let offset = 0; offset < source.totalBytes;) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            yield* conn.writer.write(c)
          }
          yield* conn.writer.write("\n")
          return yield* conn.reader.readLine
        })))
        const ack = line._tag === "Some" ? line.value + "\n" : "<eof>"
        const expected = linesAck(source.expectedCount, source.expectedLength)
        const ok = ack === expected
        return {
          ok,
          check: ok ? `ack ${JSON.stringify(ack)}` : `ack ${JSON.stringify(ack)}, expected ${JSON.stringify(expected)}`,
          elapsedMs,
          metrics: { linesPerS: p.count / (elapsedMs / 1000) }
        }
      })
  }
}

const concClient = (p: ConcParams): EffectClientScenario => ({
  run: (port) =>
    Effect.gen(function*() {
      const [, elapsedMs] = yield* timed(Effect.forEach(
        Array.from({ length: p.connections }, (_, c) => c),
        (c) =>
          Effect.scoped(Effect.gen(function*() {
            const conn = yield* connect(port)
            const out = Buffer.alloc(p.size)
            for (let rt = 0; rt < p.roundTrips; rt++) {
              echoMessage(c * p.roundTrips + rt, p.size, out)
              yield* conn.writer.write(out)
              const reply = yield* conn.reader.readExactly(p.size)
              if (Buffer.compare(reply, out) !== 0) {
                return yield* Effect.fail(new Error(`conc: connection ${c} reply ${rt} differs`))
              }
            }
          })),
        { concurrency: "unbounded", discard: true }
      ))
      return {
        ok: true,
        check: `${p.connections} x ${p.roundTrips} replies equal their requests`,
        elapsedMs,
        metrics: { totalMs: elapsedMs }
      }
    })
})

const idleClient = (p: IdleParams): EffectClientScenario => ({
  run: (port) =>
    Effect.gen(function*() {
      // Never closed: the connections are held until the process exits.
      const scope = yield* Scope.make()
      const [, elapsedMs] = yield* timed(Effect.forEach(
        Array.from({ length: p.connections }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            const b = connectionByte(i)
            const conn = yield* Scope.extend(connect(port), scope)
            yield* conn.writer.write(Uint8Array.of(b))
            const reply = yield* conn.reader.readExactly(1)
            if (reply[0] !== b) return yield* Effect.fail(new Error(`idle: connection ${i} got ${reply[0]}`))
          }),
        { concurrency: p.concurrency, discard: true }
      ))
      return { ok: true, check: `${p.connections} connections echoed their byte and are held`, elapsedMs, metrics: {} }
    })
})

const framesClient = (p: FramesParams): EffectClientScenario => {
  const source = framesSource(p.count, p.chunk)
  return {
    run: (port) =>
      Effect.gen(function*() {
        const [line, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* connect(port)
          for (let offset = 0; offset < source.totalBytes;) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            yield* conn.writer.write(c)
          }
          yield* conn.writer.write(framesTerminator)
          return yield* conn.reader.readLine
        })))
        const ack = line._tag === "Some" ? line.value + "\n" : "<eof>"
        const expected = framesAck(source.expectedCount, source.expectedLength, source.expectedChecksum)
        const ok = ack === expected
        return {
          ok,
          check: ok ? `ack ${JSON.stringify(ack)}` : `ack ${JSON.stringify(ack)}, expected ${JSON.stringify(expected)}`,
          elapsedMs,
          metrics: { framesPerS: p.count / (elapsedMs / 1000) }
        }
      })
  }
}

const client = (config: ChildConfig): EffectClientScenario => {
  if (config.tls !== undefined) connectOptions = { tls: { ca: config.tls.cert } }
  const p = config.params as never
  switch (config.scenario) {
    case "bulk":
      return bulkClient(p)
    case "echo":
      return echoClient(p)
    case "churn":
      return churnClient(p)
    case "lines":
      return linesClient(p)
    case "frames":
      return framesClient(p)
    case "conc":
      return concClient(p)
    case "idle":
      return idleClient(p)
    case "accept":
      // The scenario measures the server; the harness drives every server with the raw client.
      return { run: () => Effect.die("the accept scenario uses the raw client") }
    case "backpressure":
      // The scenario measures the server; the harness drives every server with the raw client.
      return { run: () => Effect.die("the backpressure scenario uses the raw client") }
  }
}

export const run = (config: ChildConfig): void => runChild(config, { server, client })
