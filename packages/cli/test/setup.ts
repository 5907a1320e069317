// Builds the etcp bundle (dist/etcp.js) that bin/etcp.js runs, once before the CLI tests.
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export default function setup() {
  execFileSync(process.execPath, [fileURLToPath(new URL("../scripts/bundle.mjs", import.meta.url))], {
    stdio: "inherit"
  })
}
