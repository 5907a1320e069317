// Entry point of every benchmark child process: node src/launch.cjs '<ChildConfig as JSON>'.
// CommonJS with tsx's in-thread require hook rather than `node --import tsx`: the ESM hooks run on
// an extra thread through which every module load goes, which adds ~35 MiB of RSS, five threads
// and about a second of CPU to every Effect process. The same launcher runs every implementation,
// and loads only the one it runs, so a raw process never loads Effect.
require("tsx/cjs")
const config = JSON.parse(process.argv[2] ?? "{}")
const implementations = {
  raw: "./impl/raw.ts",
  platform: "./impl/platform.ts",
  "effect-tcp": "./impl/effectTcp.ts"
}
require("./child.ts").start(config, () => require(implementations[config.impl]).run)
