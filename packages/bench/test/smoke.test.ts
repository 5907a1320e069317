import { assert, describe, it } from "@effect/vitest"
import { clientFor, defaultOptions, killLiveChildren, runBench, tlsCertificate } from "../src/harness.js"
import { IMPLS, SCENARIOS } from "../src/protocol.js"
import { formatReport } from "../src/report.js"

// `pnpm bench --smoke` as a test, so the benchmark never rots: tiny sizes, one repetition, every
// scenario on every implementation, each in fresh server and client processes. It checks that
// every ack is right and every child exits cleanly, never how fast anything was.
describe("bench --smoke", () => {
  it("every scenario's ack is correct on every implementation", async () => {
    const log: Array<string> = []
    try {
      const report = await runBench({ ...defaultOptions(true), log: (line) => log.push(line) })
      for (const scenario of SCENARIOS) {
        for (const impl of IMPLS) {
          const runs = report.runs.filter((r) =>
            r.scenario === scenario && r.server === impl && r.client === clientFor(scenario, impl)
          )
          assert.strictEqual(runs.length, 1, `${scenario} on ${impl}: one run expected`)
        }
      }
      const failed = report.runs
        .filter((r) => !r.ok)
        .map((r) => `${r.scenario} ${r.client}→${r.server}: ${r.check}\n${r.stderr ?? ""}`)
      assert.deepStrictEqual(failed, [], log.join("\n"))
    } finally {
      killLiveChildren()
    }
  })

  it("--tls: bulk and churn over TLS on raw and effect-tcp", async () => {
    const log: Array<string> = []
    try {
      const report = await runBench({
        ...defaultOptions(true),
        scenarios: ["bulk", "churn"],
        impls: ["raw", "effect-tcp"],
        tls: tlsCertificate(),
        log: (line) => log.push(line)
      })
      assert.strictEqual(report.runs.length, 4, log.join("\n"))
      const failed = report.runs
        .filter((r) => !r.ok)
        .map((r) => `${r.scenario} ${r.client}→${r.server}: ${r.check}\n${r.stderr ?? ""}`)
      assert.deepStrictEqual(failed, [], log.join("\n"))
    } finally {
      killLiveChildren()
    }
  })

  it("--workers 2: conc on raw and effect-tcp, each worker's CPU and connections in the record and the report", async () => {
    const log: Array<string> = []
    try {
      const report = await runBench({
        ...defaultOptions(true),
        scenarios: ["conc"],
        impls: ["raw", "effect-tcp"],
        workers: 2,
        log: (line) => log.push(line)
      })
      assert.strictEqual(report.runs.length, 2, log.join("\n"))
      for (const run of report.runs) {
        assert.isTrue(run.ok, `${run.client}→${run.server}: ${run.check}\n${run.stderr ?? ""}`)
        const workers = run.workerProcs ?? []
        assert.strictEqual(workers.length, 2, `${run.server}: ${JSON.stringify(run.workerProcs)}`)
        const served = workers.reduce((n, w) => n + (w.connections ?? 0), 0)
        assert.strictEqual(served, report.options.params.conc.connections, `${run.server}: connections per worker`)
      }
      const table = formatReport(report)
      assert.include(table, "server CPU s: each worker")
      assert.include(table, "CPU floor ms on")
    } finally {
      killLiveChildren()
    }
  })
})
