// @effect/platform-node's NodeSocket.makeNet / NodeSocketServer, used the way its own tests use
// them: `server.run(socket => { const write = yield* socket.writer; yield* socket.run(handler) })`,
// and on the client `socket.run` feeding a Mailbox (as Socket.toChannel does) plus `socket.writer`.
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
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
  FrameCounter,
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

const HOST = "127.0.0.1"

// ---------------------------------------------------------------------------------------------
// Servers

type Handler = (socket: Socket.Socket) => Effect.Effect<void, unknown, Scope.Scope>

const echo: Handler = (socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    yield* socket.run((chunk) => {
      counters.bytesIn += chunk.length
      return write(chunk)
    })
  })

const bulk: Handler = (socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    const header = new Uint8Array(8)
    let headerFill = 0
    let expected = -1
    let received = 0
    yield* socket.run((chunk) => {
      counters.bytesIn += chunk.length
      let pos = 0
      if (expected < 0) {
        const n = Math.min(8 - headerFill, chunk.length)
        header.set(chunk.subarray(0, n), headerFill)
        headerFill += n
        pos = n
        if (headerFill < 8) return
        expected = readBulkHeader(header)
        if (expected === 0) return write(Uint8Array.of(bulkAck(0)))
      }
      const before = received
      received += chunk.length - pos
      if (received > expected) return Effect.fail(new Error(`bulk: ${received} bytes, expected ${expected}`))
      if (before < expected && received === expected) return write(Uint8Array.of(bulkAck(received)))
    })
  })

const lines: Handler = (socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    const mailbox = yield* Mailbox.make<Uint8Array, Socket.SocketError>()
    yield* socket.run((chunk) => {
      counters.bytesIn += chunk.length
      mailbox.unsafeOffer(chunk)
    }).pipe(Mailbox.into(mailbox), Effect.forkScoped)
    const acc = yield* Mailbox.toStream(mailbox).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.takeWhile((line) => line !== ""),
      Stream.runFold({ count: 0, length: 0 }, (acc, line) => {
        acc.count++
        acc.length += line.length
        return acc
      })
    )
    yield* write(linesAck(acc.count, acc.length))
  })

// The same hand-written parser as raw, in the run handler (no Stream combinator parses frames).
const frames: Handler = (socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    const counter = new FrameCounter()
    yield* socket.run((chunk) => {
      counters.bytesIn += chunk.length
      const ack = counter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      if (ack !== undefined) return write(ack)
    })
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
    const server = yield* NodeSocketServer.make({
      host: HOST,
      port: 0,
      noDelay: true,
      ...(config.backlog !== undefined ? { backlog: config.backlog } : {})
    })
    const handler = handlers[config.scenario]
    yield* server.run((socket) =>
      Effect.sync(() => counters.connections++).pipe(
        Effect.zipRight(handler(socket)),
        Effect.catchAllCause(() => Effect.sync(() => counters.errors++)),
        Effect.scoped
      )
    ).pipe(Effect.forkScoped)
    return (server.address as SocketServer.TcpAddress).port
  })

// ---------------------------------------------------------------------------------------------
// Clients

/** A connection as a client program sees it: `write`, and an exact-length read over a Mailbox. */
const open = (port: number) =>
  Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host: HOST, port, noDelay: true })
    const mailbox = yield* Mailbox.make<Uint8Array, Socket.SocketError>()
    yield* socket.run((chunk) => {
      mailbox.unsafeOffer(chunk)
    }).pipe(Mailbox.into(mailbox), Effect.forkScoped)
    const write = yield* socket.writer
    let pending: Uint8Array | undefined
    const readExactly = (n: number) =>
      Effect.gen(function*() {
        const out = Buffer.alloc(n)
        let fill = 0
        while (fill < n) {
          const chunk = pending ?? (yield* mailbox.take)
          pending = undefined
          const take = Math.min(n - fill, chunk.length)
          out.set(chunk.subarray(0, take), fill)
          fill += take
          if (take < chunk.length) pending = chunk.subarray(take)
        }
        return out
      })
    const readLine = Effect.gen(function*() {
      let line = ""
      for (;;) {
        const chunk = yield* mailbox.take
        line += Buffer.from(chunk).toString("latin1")
        if (line.endsWith("\n")) return line
      }
    })
    return { write, readExactly, readLine }
  })

const bulkClient = (p: BulkParams): EffectClientScenario => {
  const chunk = bulkChunk(p.chunk)
  return {
    run: (port) =>
      Effect.gen(function*() {
        const [ack, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* open(port)
          yield* conn.write(bulkHeader(p.bytes))
          for (let sent = 0; sent < p.bytes; sent += p.chunk) {
            const n = Math.min(p.chunk, p.bytes - sent)
            yield* conn.write(n === p.chunk ? chunk : chunk.subarray(0, n))
          }
          return yield* conn.readExactly(1)
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
      const conn = yield* open(port)
      const samples = new Float64Array(p.count)
      const out = Buffer.alloc(p.size)
      let measureStart = performance.now()
      for (let seq = 0; seq < p.warmup + p.count; seq++) {
        if (seq === p.warmup) measureStart = performance.now()
        echoMessage(seq, p.size, out)
        const t0 = performance.now()
        yield* conn.write(out)
        const reply = yield* conn.readExactly(p.size)
        if (seq >= p.warmup) samples[seq - p.warmup] = (performance.now() - t0) * 1000
        if (!reply.equals(out)) return yield* Effect.fail(new Error(`echo: reply ${seq} differs`))
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
            const conn = yield* open(port)
            yield* conn.write(Uint8Array.of(b))
            const reply = yield* conn.readExactly(1)
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
        const [ack, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* open(port)
          for (let offset = 0; offset < source.totalBytes;) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            yield* conn.write(c)
          }
          yield* conn.write("\n")
          return yield* conn.readLine
        })))
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
            const conn = yield* open(port)
            const out = Buffer.alloc(p.size)
            for (let rt = 0; rt < p.roundTrips; rt++) {
              echoMessage(c * p.roundTrips + rt, p.size, out)
              yield* conn.write(out)
              const reply = yield* conn.readExactly(p.size)
              if (!reply.equals(out)) return yield* Effect.fail(new Error(`conc: connection ${c} reply ${rt} differs`))
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
            const conn = yield* Scope.extend(open(port), scope)
            yield* conn.write(Uint8Array.of(b))
            const reply = yield* conn.readExactly(1)
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
        const [ack, elapsedMs] = yield* timed(Effect.scoped(Effect.gen(function*() {
          const conn = yield* open(port)
          for (let offset = 0; offset < source.totalBytes;) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            yield* conn.write(c)
          }
          yield* conn.write(framesTerminator)
          return yield* conn.readLine
        })))
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
      // The platform Socket only writes while `run` reads, so it cannot be a client that never
      // reads; the harness uses the raw client for this scenario.
      return { run: () => Effect.die("platform has no backpressure client") }
  }
}

export const run = (config: ChildConfig): void => runChild(config, { server, client })
