// Runs before `pnpm pack` / `pnpm publish`: builds dist/, and refuses npm, which would ignore
// `publishConfig.exports` and pack a manifest pointing at src/ (not in the tarball).
import { execFileSync } from "node:child_process"

const agent = process.env["npm_config_user_agent"] ?? ""
if (!agent.startsWith("pnpm/")) {
  console.error(
    "effect-tcp: pack and publish this package with pnpm (`npx -y pnpm@10.34.9 pack` in packages/tcp):\n" +
      "pnpm replaces `exports` with `publishConfig.exports` (the built dist/); npm would not."
  )
  process.exit(1)
}
execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" })
