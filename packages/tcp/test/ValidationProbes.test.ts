/**
 * Every public function and option against hostile values from a JavaScript caller (SPEC §6,
 * §11): each probe must succeed or fail typed; never throw at call time, die, hang or spin; and
 * where the fixture says which values must be refused, they are refused with `InvalidArgument`
 * (and no other value is). The probes run in a child process (`fixtures/probes.ts`) with a
 * deadline, so a spin is caught as a failure naming its probe instead of hanging the suite.
 */
import { assert, describe, it } from "@effect/vitest"
import * as cp from "node:child_process"
import * as path from "node:path"

interface Result {
  readonly name: string
  readonly outcome: string
  /** The outcome the probe must have, when the fixture knows it. */
  readonly expected?: string
  /** Set when a value the fixture counts as valid was refused. */
  readonly unexpected?: boolean
}

const runProbes = (): Promise<{ results: Array<Result>; last: string; finished: boolean }> =>
  new Promise((resolve) => {
    const child = cp.spawn(process.execPath, ["--import", "tsx", path.join("test", "fixtures", "probes.ts")], {
      cwd: path.resolve(__dirname, ".."),
      stdio: ["ignore", "pipe", "ignore"]
    })
    const results: Array<Result> = []
    let last = ""
    let buffered = ""
    let finished = false
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000)
    child.stdout!.on("data", (data: Buffer) => {
      buffered += data.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        if (line.startsWith("start ")) last = line.slice(6)
        else if (line === "done") finished = true
        else if (line.startsWith("{")) results.push(JSON.parse(line))
      }
    })
    child.once("exit", () => {
      clearTimeout(timer)
      resolve({ results, last, finished })
    })
  })

describe("validation at the boundary", () => {
  it(
    "every public function and option × hostile values: success or a typed failure, never a throw, defect, hang or spin",
    async () => {
      const { finished, last, results } = await runProbes()
      assert.isTrue(finished, `the probes did not finish: spinning or hung at "${last}"`)
      assert.isAbove(results.length, 3500)
      const bad = results.filter((r) =>
        (r.outcome !== "success" && !r.outcome.startsWith("failure:")) ||
        (r.expected !== undefined && r.outcome !== r.expected) || r.unexpected === true
      )
      assert.deepStrictEqual(bad, [], `${bad.length} of ${results.length} probes misbehaved`)
    },
    330_000
  )
})
