// Start-up time of etcp as a user runs it (node bin/etcp.js, the prebuilt bundle): the median
// wall time of `etcp --help` and of `etcp connect` to a local listener that closes at once,
// next to `node -e 0` (the floor), and the CPU time (user + system, from /usr/bin/time when it is
// installed), which a loaded machine inflates less than the wall time. Each round runs the three
// once, in turn, after one untimed round (page cache, code cache); the medians are printed with
// their margin over `node -e 0` and the load average before and after, since the figure means
// little on a busy machine.
// Usage: node scripts/startup.mjs [runs=21]
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import { fileURLToPath } from "node:url"

const runs = Number(process.argv[2] ?? 21)
const bin = fileURLToPath(new URL("../bin/etcp.js", import.meta.url))

const timeBin = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined

/** Wall time of `node ...args` in ms, and its CPU time when /usr/bin/time can tell. */
const time = (args) =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = timeBin === undefined
      ? spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] })
      : spawn(timeBin, ["-f", "cpu %U %S", process.execPath, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr?.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6
      const cpu = /cpu ([0-9.]+) ([0-9.]+)/.exec(stderr)
      if (code === 0) resolve({ wall, cpu: cpu === null ? NaN : (Number(cpu[1]) + Number(cpu[2])) * 1000 })
      else reject(new Error(`node ${args.join(" ")} exited with ${code}: ${stderr}`))
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
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ")
const loadBefore = load()
for (const [, args] of cases) await time(args)
const samples = cases.map(() => [])
for (let i = 0; i < runs; i++) {
  for (let c = 0; c < cases.length; c++) samples[c].push(await time(cases[c][1]))
}
server.close()
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const ms = (x) => `${x.toFixed(0).padStart(4)} ms`
const signed = (x) => `${x < 0 ? "-" : "+"}${Math.abs(x).toFixed(0)}`
const floor = pct(samples[0].map((s) => s.wall), 0.5)
const floorCpu = pct(samples[0].map((s) => s.cpu), 0.5)
console.log(
  `node ${process.version}, ${os.cpus().length} cores, load average (1, 5, 15 min) ${loadBefore} before, ${load()} after`
)
for (let c = 0; c < cases.length; c++) {
  const wall = samples[c].map((s) => s.wall)
  const cpu = samples[c].map((s) => s.cpu)
  const margin = c === 0
    ? ""
    : `   over node -e 0: wall ${signed(pct(wall, 0.5) - floor)} ms, cpu ${signed(pct(cpu, 0.5) - floorCpu)} ms`
  console.log(
    `${cases[c][0].padEnd(28)} wall: median ${ms(pct(wall, 0.5))}, min ${ms(Math.min(...wall))}, p90 ${
      ms(pct(wall, 0.9))
    }   cpu: median ${ms(pct(cpu, 0.5))}${margin}   (${runs} runs)`
  )
}
