/**
 * TLS options of `etcp connect` and `etcp listen`: `--tls`, `--cafile`, `--cert`, `--key`,
 * `--insecure`.
 *
 * @since 0.2.0
 */
import * as Options from "@effect/cli/Options"
import type { Tls } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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
  readonly cafile: Option.Option<string>
  readonly cert: Option.Option<string>
  readonly key: Option.Option<string>
  readonly insecure: boolean
}

/**
 * `--tls --cafile FILE --cert FILE --key FILE --insecure`.
 *
 * @since 0.2.0
 * @category options
 */
export const tlsOptions = {
  tls: Options.boolean("tls").pipe(
    Options.withDescription("Speak TLS (connect: verify the server; listen: needs --cert and --key).")
  ),
  cafile: Options.file("cafile").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "Trusted CA certificates (PEM). connect: instead of the system's; listen: ask clients for a certificate signed by them (mutual TLS)."
    ),
    Options.optional
  ),
  cert: Options.file("cert").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("Certificate chain (PEM): the server's (listen) or the client's (connect, mutual TLS)."),
    Options.optional
  ),
  key: Options.file("key").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("Private key of --cert (PEM)."),
    Options.optional
  ),
  insecure: Options.boolean("insecure").pipe(
    Options.withDescription("connect: do not verify the server's certificate (tests only).")
  )
}

const read = (file: string, flag: string): Effect.Effect<string, CliFailure> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (error) => usage(`cannot read ${flag} ${file}: ${error instanceof Error ? error.message : String(error)}`)
  })

const readOption = (file: Option.Option<string>, flag: string) =>
  Option.match(file, { onNone: () => Effect.succeed(undefined), onSome: (f) => read(f, flag) })

const noTlsFlags = (flags: TlsFlags): boolean =>
  !flags.insecure && Option.isNone(flags.cafile) && Option.isNone(flags.cert) && Option.isNone(flags.key)

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
    if (Option.isSome(flags.cert) !== Option.isSome(flags.key)) {
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
    if (Option.isNone(flags.cert) || Option.isNone(flags.key)) {
      return yield* Effect.fail(usage("listen --tls needs --cert and --key"))
    }
    const cert = yield* read(flags.cert.value, "--cert")
    const key = yield* read(flags.key.value, "--key")
    const ca = yield* readOption(flags.cafile, "--cafile")
    return {
      certificates: [{ cert, key }],
      ...(ca !== undefined ? { ca, requestCert: true } : {})
    }
  })
