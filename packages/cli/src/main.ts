/**
 * `etcp` from its TypeScript sources (`pnpm etcp …`, or `bin/etcp.js` before a build): the same
 * command line as the bundle, `cli.ts`.
 *
 * @since 0.1.0
 */
import { main } from "./cli.js"

// `pnpm etcp …` runs in this package's directory; relative paths (FILE, --output, --unix) are
// meant relative to where the user typed the command, which pnpm passes as INIT_CWD.
if (process.env["npm_lifecycle_event"] === "etcp" && process.env["INIT_CWD"] !== undefined) {
  process.chdir(process.env["INIT_CWD"])
}

main(process.argv.slice(2), () => import("./run.js"))
