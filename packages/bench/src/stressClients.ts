/**
 * The clients of the stress command's `concurrent` scenario, in a process of their own so that
 * they do not share the server's descriptor limit: `tsx src/stressClients.ts <port> <count>
 * <deadline ms>`. Opens `count` connections at once, sends a line on each and waits for its
 * echo, keeping every connection open until all have been answered (or the deadline passed), so
 * that the server holds them all at the same time; 250 ms later closes them all and prints one JSON line
 * `{ "ok": <answered>, "held": <open when the last answer came> }`. Plain `node:net`, no Effect.
 */
import * as net from "node:net"

const [port, count, deadline] = process.argv.slice(2).map(Number)
if (!Number.isInteger(port) || !Number.isInteger(count) || !Number.isInteger(deadline)) {
  process.stderr.write("usage: stressClients.ts <port> <count> <deadline ms>\n")
  process.exit(2)
}

const sockets: Array<net.Socket> = []
let ok = 0
let settled = 0
let open = 0
let held = 0

const finish = (): void => {
  for (const socket of sockets) socket.destroy()
  process.stdout.write(JSON.stringify({ ok, held }) + "\n")
  process.exit(0)
}
const timer = setTimeout(finish, deadline!)

const settle = (answered: boolean): void => {
  if (answered) ok++
  if (++settled === count) {
    held = open
    clearTimeout(timer)
    // Held a little longer, so that the server's sampled connection count sees the plateau.
    setTimeout(finish, 250)
  }
}

for (let i = 0; i < count!; i++) {
  const line = `c${i}\n`
  const socket = net.connect(port!, "127.0.0.1")
  sockets.push(socket)
  let got = ""
  let done = false
  let connected = false
  const once = (answered: boolean): void => {
    if (done) return
    done = true
    settle(answered)
  }
  socket.once("connect", () => {
    connected = true
    open++
  })
  socket.on("error", () => once(false))
  socket.on("close", () => {
    if (connected) open--
    once(false)
  })
  socket.on("data", (data) => {
    got += data.toString()
    if (got.endsWith("\n")) once(got === line)
  })
  socket.write(line)
}
