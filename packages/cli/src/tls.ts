/**
 * TLS options of `etcp connect` and `etcp listen`: `--tls`, `--cafile`, `--cert`, `--key`,
 * `--insecure`.
 *
 * @since 0.2.0
 */
import type * as Tls from "effect-tcp/Tls"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { type CliFailure, usage } from "./exit.js"

/**
 * The TLS options, as parsed.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsFlags {
  readonly tls: boolean
  readonly cafile: string | undefined
  readonly cert: string | undefined
  readonly key: string | undefined
  readonly insecure: boolean
}

const read = (file: string, flag: string): Effect.Effect<string, CliFailure> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (error) => usage(`cannot read ${flag} ${file}: ${error instanceof Error ? error.message : String(error)}`)
  })

const readOption = (file: string | undefined, flag: string): Effect.Effect<string | undefined, CliFailure> =>
  file === undefined ? Effect.succeed(undefined) : read(file, flag)

const noTlsFlags = (flags: TlsFlags): boolean =>
  !flags.insecure && flags.cafile === undefined && flags.cert === undefined && flags.key === undefined

/**
 * The `tls` option of a connect, or `undefined` without `--tls`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const clientTls = (flags: TlsFlags): Effect.Effect<Tls.ClientOptions | undefined, CliFailure> =>
  Effect.gen(function*() {
    if (!flags.tls) {
      return noTlsFlags(flags)
        ? undefined
        : yield* Effect.fail(usage("--cafile, --cert, --key and --insecure need --tls"))
    }
    if ((flags.cert === undefined) !== (flags.key === undefined)) {
      return yield* Effect.fail(usage("--cert and --key go together"))
    }
    const ca = yield* readOption(flags.cafile, "--cafile")
    const cert = yield* readOption(flags.cert, "--cert")
    const key = yield* readOption(flags.key, "--key")
    return {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(flags.insecure ? { rejectUnauthorized: false } : {})
    }
  })

/**
 * The `tls` option of a server, or `undefined` without `--tls`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const serverTls = (flags: TlsFlags): Effect.Effect<Tls.ServerOptions | undefined, CliFailure> =>
  Effect.gen(function*() {
    if (!flags.tls) {
      return noTlsFlags(flags) ? undefined : yield* Effect.fail(usage("--cafile, --cert and --key need --tls"))
    }
    if (flags.insecure) return yield* Effect.fail(usage("--insecure applies to connect only"))
    if (flags.cert === undefined || flags.key === undefined) {
      return yield* Effect.fail(usage("listen --tls needs --cert and --key"))
    }
    const cert = yield* read(flags.cert, "--cert")
    const key = yield* read(flags.key, "--key")
    const ca = yield* readOption(flags.cafile, "--cafile")
    return {
      certificates: [{ cert, key }],
      ...(ca !== undefined ? { ca, requestCert: true } : {})
    }
  })
