// Builds each implementation's child program as one bundled JavaScript file (esbuild), so that every
// child runs as built JavaScript: no TypeScript loader in the measured processes, and the same
// build for all three implementations. effect-tcp is bundled from its sources, as the package's
// own build compiles them.
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Impl } from "./protocol.js"

const sources: Record<Impl, string> = {
  raw: "./impl/raw.ts",
  platform: "./impl/platform.ts",
  "effect-tcp": "./impl/effectTcp.ts"
}

/**
 * Bundles the children of `impls` into `outDir` (`<impl>.cjs`) and returns their paths. Each
 * bundle holds only the implementation it runs, so a raw child never loads Effect.
 */
export const buildChildren = (
  srcDir: string,
  outDir: string,
  impls: ReadonlyArray<Impl>
): Record<Impl, string> => {
  fs.mkdirSync(outDir, { recursive: true })
  const out = {} as Record<Impl, string>
  for (const impl of impls) {
    const outfile = path.join(outDir, `${impl}.cjs`)
    esbuild.buildSync({
      stdin: {
        contents: `const config = JSON.parse(process.argv[2] ?? "{}")\n` +
          `require("./child.ts").start(config, () => require(${JSON.stringify(sources[impl])}).run)\n`,
        resolveDir: srcDir,
        sourcefile: `${impl}-child.ts`,
        loader: "ts"
      },
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      outfile,
      // Readable names in CPU profiles; no minification.
      minify: false,
      keepNames: false,
      sourcemap: false,
      logLevel: "error"
    })
    out[impl] = outfile
  }
  return out
}
