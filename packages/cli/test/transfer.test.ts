// `etcp send` and `etcp receive` against nc and socat, over TCP and Unix sockets, and their
// progress bar in a pseudo-terminal (util-linux `script`).
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  etcp,
  etcpBackground,
  etcpBin,
  listeningPort,
  randomBytes,
  requirePeer,
  run,
  sha256,
  spawn,
  tempDir
} from "./support.js"

const writeFile = (dir: string, name: string, data: Uint8Array) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, data)
  return file
}

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

describe("etcp send / receive", () => {
  it.scopedLive("send: a file to nc -l, byte for byte, with one summary line when stderr is not a terminal", () =>
    Effect.gen(function*() {
      requirePeer("nc", "netcat-openbsd")
      const dir = yield* tempDir
      const data = randomBytes(4 * 1024 * 1024, 3)
      const file = writeFile(dir, "data.bin", data)
      const nc = yield* spawn("nc", ["-v", "-l", "127.0.0.1", "0"], { stdin: "ignore" })
      const port = Number((yield* nc.waitFor("stderr", /Listening on \S+ ([0-9]+)/))[1])
      const sent = yield* etcp(["send", file, "127.0.0.1", String(port)])
      assert.strictEqual(sent.code, 0, sent.stderr)
      assert.notInclude(sent.stderr, "\r")
      assert.match(
        sent.stderr,
        /^sent 4\.00 MiB \(4194304 bytes\) in [0-9.]+ s \([0-9.]+ [KMG]iB\/s\) to 127\.0\.0\.1:[0-9]+\n$/
      )
      assert.strictEqual(yield* nc.exit, 0)
      assert.strictEqual(sha256(nc.stdout()), sha256(data))
    }))

  it.scopedLive("receive: from socat over TCP into --output, and send to socat over a Unix socket", () =>
    Effect.gen(function*() {
      requirePeer("socat", "socat")
      const dir = yield* tempDir
      const data = randomBytes(3 * 1024 * 1024 + 17, 4)
      const file = writeFile(dir, "in.bin", data)
      const out = path.join(dir, "out.bin")
      const receiver = yield* etcpBackground(["receive", "--host", "127.0.0.1", "--output", out])
      const port = yield* listeningPort(receiver)
      const socat = yield* run("socat", ["-u", `OPEN:${file}`, `TCP:127.0.0.1:${port}`])
      assert.strictEqual(socat.code, 0, socat.stderr)
      assert.strictEqual(yield* receiver.exit, 0, receiver.stderr())
      assert.match(
        receiver.stderr(),
        /received 3\.00 MiB \(3145745 bytes\) in [0-9.]+ s .* from 127\.0\.0\.1:[0-9]+\n$/
      )
      assert.strictEqual(sha256(fs.readFileSync(out)), sha256(data))

      const socketPath = path.join(dir, "upload.sock")
      const copy = path.join(dir, "copy.bin")
      const listener = yield* spawn("socat", ["-d", "-d", "-u", `UNIX-LISTEN:${socketPath}`, `CREATE:${copy}`])
      yield* listener.waitFor("stderr", /listening on AF=1/)
      const sent = yield* etcp(["send", file, "--unix", socketPath])
      assert.strictEqual(sent.code, 0, sent.stderr)
      assert.strictEqual(yield* listener.exit, 0)
      assert.strictEqual(sha256(fs.readFileSync(copy)), sha256(data))
    }))

  it.scopedLive("send to receive over a Unix socket, receive writing to standard output", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = randomBytes(2 * 1024 * 1024, 5)
      const file = writeFile(dir, "in.bin", data)
      const socketPath = path.join(dir, "etcp.sock")
      const receiver = yield* etcpBackground(["receive", "--unix", socketPath])
      yield* receiver.waitFor("stderr", /listening on /)
      const sent = yield* etcp(["send", file, "--unix", socketPath])
      assert.strictEqual(sent.code, 0, sent.stderr)
      assert.strictEqual(yield* receiver.exit, 0, receiver.stderr())
      assert.strictEqual(sha256(receiver.stdout()), sha256(data))
      assert.isFalse(fs.existsSync(socketPath), "the socket file is removed")
    }))

  it.live("send: a missing file is one line and exit status 1, before any connection", () =>
    Effect.gen(function*() {
      const result = yield* etcp(["send", "/nonexistent/file.bin", "127.0.0.1", "9"])
      assert.strictEqual(result.code, 1)
      assert.match(
        result.stderr,
        /^etcp: cannot read \/nonexistent\/file\.bin: ENOENT: no such file or directory[^\n]*\n$/
      )
    }))

  it.scopedLive("in a terminal: a progress bar (bytes, rate, ETA) on both ends, then the summary", () =>
    Effect.gen(function*() {
      requirePeer("script", "util-linux (bsdutils)")
      const dir = yield* tempDir
      const data = randomBytes(1536 * 1024, 6)
      const file = writeFile(dir, "slow.bin", data)
      const out = path.join(dir, "out.bin")
      const pty = (command: string) => ["-qfec", command, "/dev/null"]
      const receiver = yield* spawn(
        "script",
        pty(
          `${shellQuote(process.execPath)} ${shellQuote(etcpBin)} receive --host 127.0.0.1 --output ${shellQuote(out)}`
        ),
        { stdin: "ignore", env: { COLUMNS: "100" } }
      )
      const port = Number((yield* receiver.waitFor("stdout", /listening on port ([0-9]+)/))[1])
      const sender = yield* run(
        "script",
        pty(
          `${shellQuote(process.execPath)} ${shellQuote(etcpBin)} send --limit-rate 2Mi ${
            shellQuote(file)
          } 127.0.0.1 ${port}`
        ),
        { env: { COLUMNS: "100" } }
      )
      const transcript = sender.stdout.toString("utf8")
      assert.strictEqual(sender.code, 0, transcript)
      const frames = transcript.split("\r").filter((f) => /sending \[[#.]+\]\s+[0-9]+%/.test(f))
      assert.isAtLeast(frames.length, 3, transcript)
      assert.match(transcript, /sending \[#+\]\s+100%\s+1\.50 MiB \/ 1\.50 MiB\s+[0-9.]+ [KM]iB\/s\s+ETA 0:00/)
      assert.match(transcript, /ETA 0:0[0-9]/)
      assert.match(transcript, /\r?\nsent 1\.50 MiB \(1572864 bytes\) in [0-9.]+ s/)
      // Rate limited to 2 MiB/s: 1.5 MiB takes about 0.75 s.
      const seconds = Number(/in ([0-9.]+) s/.exec(transcript)![1])
      assert.isAtLeast(seconds, 0.5)

      assert.strictEqual(yield* receiver.exit, 0)
      const received = receiver.stdout().toString("utf8")
      assert.match(received, /receiving {2}[0-9.]+ [KM]?i?B/)
      assert.match(received, /received 1\.50 MiB \(1572864 bytes\)/)
      assert.strictEqual(sha256(fs.readFileSync(out)), sha256(data))
    }))
})
