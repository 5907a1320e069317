import { assert, describe, it } from "@effect/vitest"
import { formatTable, runStress, smallCounts } from "../src/stress.js"

describe("stress (small counts)", () => {
  it("every scenario serves everyone, refuses the hostile peers at their bound, and leaves no descriptor", async () => {
    const rows = await runStress(smallCounts)
    const table = formatTable(rows)
    assert.strictEqual(rows.length, 4, table)
    for (const row of rows) {
      assert.strictEqual(row.ok, row.count, `${row.scenario}\n${table}`)
      assert.isAtMost(row.fdsAfter, row.fdsBefore + 4, `${row.scenario} left descriptors\n${table}`)
    }
    assert.match(rows[2]!.note, /other client served: true/, table)
  }, 240_000)
})
