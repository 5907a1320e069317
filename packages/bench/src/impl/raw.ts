// Plain node:net, written the way a careful engineer would: callback state machines, no promise
// per message, write() === false / 'drain' honoured, reading paused while our own writes back up,
// and a hand-written indexOf(0x0a) line splitter that carries partial lines.
import * as net from "node:net"
import * as tls from "node:tls"
import { counters, fail, send, waitFor } from "../control.js"
import {
  type AcceptParams,
  type BackpressureParams,
  bulkAck,
  bulkChunk,
  bulkHeader,
  type BulkParams,
  checkPattern,
  type ChildConfig,
  type ChurnParams,
  type ClientResult,
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
  patternChunk,
  patternSource,
  readBulkHeader,
  type Scenario
} from "../protocol.js"

const HOST = "127.0.0.1"

// ---------------------------------------------------------------------------------------------
// Servers

const echoHandler = (socket: net.Socket): void => {
  socket.on("data", (chunk: Buffer) => {
    counters.bytesIn += chunk.length
    if (!socket.write(chunk)) socket.pause()
  })
  socket.on("drain", () => socket.resume())
}

const bulkHandler = (socket: net.Socket): void => {
  const header = Buffer.alloc(8)
  let headerFill = 0
  let expected = -1
  let received = 0
  const maybeAck = () => {
    if (received === expected) socket.write(Uint8Array.of(bulkAck(received)))
  }
  socket.on("data", (chunk: Buffer) => {
    counters.bytesIn += chunk.length
    let pos = 0
    if (expected < 0) {
      const n = Math.min(8 - headerFill, chunk.length)
      chunk.copy(header, headerFill, 0, n)
      headerFill += n
      pos = n
      if (headerFill < 8) return
      expected = readBulkHeader(header)
      if (expected === 0) return maybeAck()
    }
    const before = received
    received += chunk.length - pos
    if (received > expected) {
      counters.errors++
      socket.destroy()
    } else if (before < expected) {
      maybeAck()
    }
  })
}

const linesHandler = (socket: net.Socket): void => {
  let carry: Buffer | undefined
  let count = 0
  let total = 0
  let done = false
  socket.on("data", (chunk: Buffer) => {
    counters.bytesIn += chunk.length
    if (done) return
    let pos = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos)
      if (nl < 0) break
      let line: Buffer
      if (carry !== undefined) {
        line = Buffer.concat([carry, chunk.subarray(pos, nl)])
        carry = undefined
      } else {
        line = chunk.subarray(pos, nl)
      }
      pos = nl + 1
      if (line.length === 0) {
        done = true
        socket.end(linesAck(count, total))
        return
      }
      count++
      total += line.length
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos)
      carry = carry === undefined ? rest : Buffer.concat([carry, rest])
    }
  })
}

const framesHandler = (socket: net.Socket): void => {
  const frames = new FrameCounter()
  socket.on("data", (chunk: Buffer) => {
    counters.bytesIn += chunk.length
    const ack = frames.push(chunk)
    if (ack !== undefined) socket.end(ack)
  })
}

const serverHandlers: Record<Scenario, (socket: net.Socket) => void> = {
  bulk: bulkHandler,
  echo: echoHandler,
  churn: echoHandler,
  lines: linesHandler,
  frames: framesHandler,
  conc: echoHandler,
  backpressure: echoHandler,
  accept: echoHandler,
  idle: echoHandler
}

const runServer = (config: ChildConfig): void => {
  const handler = serverHandlers[config.scenario]
  const onConnection = (socket: net.Socket) => {
    counters.connections++
    socket.on("error", () => {
      counters.errors++
    })
    handler(socket)
  }
  const server = config.tls === undefined
    ? net.createServer({ noDelay: true }, onConnection)
    : tls.createServer({ noDelay: true, key: config.tls.key, cert: config.tls.cert }, onConnection)
  server.on("error", (e) => fail(`server error: ${e.message}`))
  server.listen({ host: HOST, port: 0, ...(config.backlog !== undefined ? { backlog: config.backlog } : {}) }, () => {
    send({ t: "ready", port: (server.address() as net.AddressInfo).port })
  })
  void waitFor("exit").then(() => {
    server.close()
    process.exit(0)
  })
}

// ---------------------------------------------------------------------------------------------
// Clients

interface ClientScenario {
  readonly run: (port: number) => Promise<ClientResult>
  readonly verify?: () => Promise<ClientResult>
}

/** The CA a TLS client trusts (`--tls`); undefined: plaintext. */
let trusted: string | undefined

const connect = (port: number): net.Socket => {
  const socket = trusted === undefined
    ? net.connect({ host: HOST, port, noDelay: true })
    : tls.connect({ host: HOST, port, ca: trusted }).setNoDelay(true)
  socket.on("error", (e) => fail(`client socket error: ${e.message}`))
  return socket
}

const bulkClient = (p: BulkParams): ClientScenario => {
  const chunk = bulkChunk(p.chunk)
  return {
    run: (port) =>
      new Promise((resolve) => {
        const start = performance.now()
        const socket = connect(port)
        let sent = 0
        const pump = () => {
          while (sent < p.bytes) {
            const n = Math.min(p.chunk, p.bytes - sent)
            sent += n
            if (!socket.write(n === p.chunk ? chunk : chunk.subarray(0, n))) {
              socket.once("drain", pump)
              return
            }
          }
        }
        socket.on("connect", () => {
          socket.write(bulkHeader(p.bytes))
          pump()
        })
        socket.on("data", (d: Buffer) => {
          const elapsedMs = performance.now() - start
          const expected = bulkAck(p.bytes)
          const ok = d.length === 1 && d[0] === expected && sent === p.bytes
          socket.destroySoon()
          resolve({
            ok,
            check: ok ? "ack byte" : `ack ${d.toString("hex")} (expected ${expected}), sent ${sent}`,
            elapsedMs,
            metrics: { mibPerS: p.bytes / 1048576 / (elapsedMs / 1000) }
          })
        })
      })
  }
}

const echoClient = (p: EchoParams): ClientScenario => ({
  run: (port) =>
    new Promise((resolve) => {
      const total = p.warmup + p.count
      const samples = new Float64Array(p.count)
      const out = Buffer.alloc(p.size)
      const inb = Buffer.alloc(p.size)
      let fill = 0
      let seq = 0
      let t0 = 0
      let measureStart = 0
      const socket = connect(port)
      const next = () => {
        echoMessage(seq, p.size, out)
        t0 = performance.now()
        socket.write(out)
      }
      socket.on("connect", () => {
        measureStart = performance.now()
        next()
      })
      socket.on("data", (d: Buffer) => {
        if (fill + d.length > p.size) fail(`echo: ${fill + d.length} bytes for a ${p.size}-byte message`)
        d.copy(inb, fill)
        fill += d.length
        if (fill < p.size) return
        const now = performance.now()
        if (!inb.equals(out)) fail(`echo: reply ${seq} differs`)
        if (seq >= p.warmup) samples[seq - p.warmup] = (now - t0) * 1000
        fill = 0
        seq++
        if (seq === p.warmup) measureStart = now
        if (seq < total) return next()
        const elapsedMs = now - measureStart
        socket.destroySoon()
        resolve({
          ok: true,
          check: `${total} replies equal their requests`,
          elapsedMs,
          metrics: { rtPerS: p.count / (elapsedMs / 1000), ...latencySummary(samples) }
        })
      })
    })
})

const churnClient = (p: ChurnParams): ClientScenario => ({
  run: (port) =>
    new Promise((resolve) => {
      const start = performance.now()
      let i = 0
      const one = () => {
        if (i === p.count) {
          const elapsedMs = performance.now() - start
          return resolve({
            ok: true,
            check: `${p.count} one-byte echoes`,
            elapsedMs,
            metrics: { connPerS: p.count / (elapsedMs / 1000) }
          })
        }
        const b = i & 0xff
        const socket = connect(port)
        let got = false
        socket.on("connect", () => socket.write(Uint8Array.of(b)))
        socket.on("data", (d: Buffer) => {
          if (got || d.length !== 1 || d[0] !== b) fail(`churn: connection ${i} got ${d.toString("hex")}`)
          got = true
          socket.destroySoon()
        })
        socket.on("close", () => {
          if (!got) fail(`churn: connection ${i} closed without a reply`)
          i++
          one()
        })
      }
      one()
    })
})

const linesClient = (p: LinesParams): ClientScenario => {
  const source = linesSource(p.count, p.chunk)
  return {
    run: (port) =>
      new Promise((resolve) => {
        const start = performance.now()
        const socket = connect(port)
        let offset = 0
        let terminated = false
        const pump = () => {
          while (offset < source.totalBytes) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            if (!socket.write(c)) {
              socket.once("drain", pump)
              return
            }
          }
          if (!terminated) {
            terminated = true
            socket.write("\n")
          }
        }
        socket.on("connect", pump)
        let ack = ""
        socket.on("data", (d: Buffer) => {
          ack += d.toString("latin1")
          if (!ack.endsWith("\n")) return
          const elapsedMs = performance.now() - start
          const expected = linesAck(source.expectedCount, source.expectedLength)
          const ok = ack === expected
          socket.destroySoon()
          resolve({
            ok,
            check: ok
              ? `ack ${JSON.stringify(ack)}`
              : `ack ${JSON.stringify(ack)}, expected ${JSON.stringify(expected)}`,
            elapsedMs,
            metrics: { linesPerS: p.count / (elapsedMs / 1000) }
          })
        })
      })
  }
}

const framesClient = (p: FramesParams): ClientScenario => {
  const source = framesSource(p.count, p.chunk)
  return {
    run: (port) =>
      new Promise((resolve) => {
        const start = performance.now()
        const socket = connect(port)
        let offset = 0
        let terminated = false
        const pump = () => {
          while (offset < source.totalBytes) {
            const c = linesChunk(source, offset, p.chunk)
            offset += c.length
            if (!socket.write(c)) {
              socket.once("drain", pump)
              return
            }
          }
          if (!terminated) {
            terminated = true
            socket.write(framesTerminator)
          }
        }
        socket.on("connect", pump)
        let ack = ""
        socket.on("data", (d: Buffer) => {
          ack += d.toString("latin1")
          if (!ack.endsWith("\n")) return
          const elapsedMs = performance.now() - start
          const expected = framesAck(source.expectedCount, source.expectedLength, source.expectedChecksum)
          const ok = ack === expected
          socket.destroySoon()
          resolve({
            ok,
            check: ok
              ? `ack ${JSON.stringify(ack)}`
              : `ack ${JSON.stringify(ack)}, expected ${JSON.stringify(expected)}`,
            elapsedMs,
            metrics: { framesPerS: p.count / (elapsedMs / 1000) }
          })
        })
      })
  }
}

const concClient = (p: ConcParams): ClientScenario => ({
  run: (port) =>
    new Promise((resolve) => {
      const start = performance.now()
      let finished = 0
      for (let c = 0; c < p.connections; c++) {
        const socket = connect(port)
        const out = Buffer.alloc(p.size)
        const inb = Buffer.alloc(p.size)
        let fill = 0
        let rt = 0
        const next = () => {
          echoMessage(c * p.roundTrips + rt, p.size, out)
          socket.write(out)
        }
        socket.on("connect", next)
        socket.on("data", (d: Buffer) => {
          if (fill + d.length > p.size) fail(`conc: ${fill + d.length} bytes for a ${p.size}-byte message`)
          d.copy(inb, fill)
          fill += d.length
          if (fill < p.size) return
          if (!inb.equals(out)) fail(`conc: connection ${c} reply ${rt} differs`)
          fill = 0
          rt++
          if (rt < p.roundTrips) return next()
          socket.destroySoon()
          finished++
          if (finished === p.connections) {
            const elapsedMs = performance.now() - start
            resolve({
              ok: true,
              check: `${p.connections} x ${p.roundTrips} replies equal their requests`,
              elapsedMs,
              metrics: { totalMs: elapsedMs }
            })
          }
        })
      }
    })
})

const backpressureClient = (p: BackpressureParams): ClientScenario => {
  const source = patternSource(p.chunk)
  let socket: net.Socket | undefined
  let written = 0
  return {
    run: (port) =>
      new Promise((resolve) => {
        const s = connect(port)
        socket = s
        let stopped = false
        const pump = () => {
          while (!stopped && written < p.maxBytes) {
            const n = Math.min(p.chunk, p.maxBytes - written)
            const ok = s.write(patternChunk(source, written, n))
            written += n
            if (!ok) {
              s.once("drain", pump)
              return
            }
          }
        }
        s.on("connect", () => {
          const start = performance.now()
          setTimeout(() => {
            stopped = true
            resolve({
              ok: true,
              check: "window elapsed",
              elapsedMs: performance.now() - start,
              metrics: { mibWritten: written / 1048576, mibQueuedInClient: s.writableLength / 1048576 }
            })
          }, p.windowMs)
          pump()
        })
      }),
    // Read everything back and check it is the stream we sent, in order.
    verify: () =>
      new Promise((resolve) => {
        const s = socket!
        const start = performance.now()
        let received = 0
        const finish = (ok: boolean, check: string) => {
          s.removeAllListeners("data")
          s.destroySoon()
          resolve({ ok, check, elapsedMs: performance.now() - start, metrics: { mibEchoed: received / 1048576 } })
        }
        if (written === 0) return finish(false, "nothing was written")
        s.on("data", (d: Buffer) => {
          const bad = checkPattern(d, received)
          if (bad >= 0) return finish(false, `echoed byte ${received + bad} is wrong`)
          received += d.length
          if (received > written) return finish(false, `echoed ${received} bytes, wrote ${written}`)
          if (received === written) finish(true, `all ${written} bytes echoed in order`)
        })
        s.resume()
      })
  }
}

/**
 * Opens `count` connections, at most `concurrency` connects in flight; each sends its byte and
 * waits for the echo. Resolves with the open sockets once every one has its echo.
 */
const openEchoed = (port: number, count: number, concurrency: number, what: string): Promise<Array<net.Socket>> =>
  new Promise((resolve) => {
    const sockets: Array<net.Socket> = []
    let started = 0
    let echoed = 0
    const startOne = () => {
      const i = started++
      const b = connectionByte(i)
      const socket = connect(port)
      sockets.push(socket)
      socket.on("connect", () => socket.write(Uint8Array.of(b)))
      socket.once("data", (d: Buffer) => {
        if (d.length !== 1 || d[0] !== b) fail(`${what}: connection ${i} got ${d.toString("hex")}`)
        echoed++
        if (echoed === count) return resolve(sockets)
        if (started < count) startOne()
      })
    }
    for (let k = 0; k < Math.min(concurrency, count); k++) startOne()
  })

const acceptClient = (p: AcceptParams): ClientScenario => {
  let sockets: Array<net.Socket> = []
  return {
    run: async (port) => {
      const start = performance.now()
      sockets = await openEchoed(port, p.connections, p.connections, "accept")
      const elapsedMs = performance.now() - start
      for (const s of sockets) s.destroy()
      return {
        ok: true,
        check: `${p.connections} simultaneous connections echoed their byte`,
        elapsedMs,
        metrics: { totalMs: elapsedMs }
      }
    }
  }
}

const idleClient = (p: IdleParams): ClientScenario => {
  // Held until the process exits.
  const held: Array<net.Socket> = []
  return {
    run: async (port) => {
      const start = performance.now()
      held.push(...(await openEchoed(port, p.connections, p.concurrency, "idle")))
      const elapsedMs = performance.now() - start
      return { ok: true, check: `${p.connections} connections echoed their byte and are held`, elapsedMs, metrics: {} }
    }
  }
}

const clients: Record<Scenario, (p: any) => ClientScenario> = {
  bulk: bulkClient,
  echo: echoClient,
  churn: churnClient,
  lines: linesClient,
  frames: framesClient,
  conc: concClient,
  backpressure: backpressureClient,
  accept: acceptClient,
  idle: idleClient
}

const runClient = async (config: ChildConfig): Promise<void> => {
  trusted = config.tls?.cert
  const scenario = clients[config.scenario](config.params)
  send({ t: "ready" })
  const go = await waitFor("go")
  const result = await scenario.run(go.port!)
  send({ t: "result", ...result })
  if (scenario.verify !== undefined) {
    await waitFor("verify")
    send({ t: "verified", ...(await scenario.verify()) })
  }
  await waitFor("exit")
  process.exit(0)
}

export const run = (config: ChildConfig): void => {
  if (config.role === "server") runServer(config)
  else void runClient(config)
}
