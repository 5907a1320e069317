// Start-up time of etcp as a user runs it (node bin/etcp.js, the prebuilt bundle): the median
// wall time of `etcp --help` and of `etcp connect` to a local listener that closes at once,
// next to `node -e 0` (the floor). Usage: node scripts/startup.mjs [runs=21]
import { spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"

const runs = Number(process.argv[2] ?? 21)
const bin = fileURLToPath(new URL("../bin/etcp.js", import.meta.url))

const time = (args) =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] })
    child.on("error", reject)
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      code === 0 ? resolve(ms) : reject(new Error(`node ${args.join(" ")} exited with ${code}`))
    })
  })

const server = net.createServer((socket) => socket.end())
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const port = String(server.address().port)

const cases = [
  ["node -e 0", ["-e", "0"]],
  ["etcp --help", [bin, "--help"]],
  [`etcp connect 127.0.0.1 PORT`, [bin, "connect", "127.0.0.1", port]]
]
const samples = cases.map(() => [])
for (let i = 0; i < runs; i++) {
  for (let c = 0; c < cases.length; c++) samples[c].push(await time(cases[c][1]))
}
server.close()
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
for (let c = 0; c < cases.length; c++) {
  const xs = samples[c]
  console.log(
    `${cases[c][0].padEnd(28)} median ${pct(xs, 0.5).toFixed(0).padStart(4)} ms   min ${
      Math.min(...xs).toFixed(0).padStart(4)
    } ms   p90 ${pct(xs, 0.9).toFixed(0).padStart(4)} ms   (${runs} runs)`
  )
}
