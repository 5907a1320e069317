// `etcp connect --tls` and `etcp listen --tls` with certificates made by openssl at test time.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { testCertificates } from "../../tcp/test/utils/certs.js"
import { etcp, etcpBackground, listeningPort } from "./support.js"

const certs = testCertificates()

describe("etcp over TLS", () => {
  it.scopedLive("listen --tls --echo, connect --tls --cafile; without trust the connect fails, --insecure connects", () =>
    Effect.gen(function*() {
      const listener = yield* etcpBackground([
        "listen",
        "--keep-open",
        "--echo",
        "--host",
        "127.0.0.1",
        "--tls",
        "--cert",
        certs.server.certFile,
        "--key",
        certs.server.keyFile
      ])
      const port = String(yield* listeningPort(listener))
      const ok = yield* etcp(["connect", "--tls", "--cafile", certs.ca.certFile, "localhost", port], {
        input: "over tls\n"
      })
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.strictEqual(ok.stdout.toString(), "over tls\n")
      const untrusted = yield* etcp(["connect", "--tls", "127.0.0.1", port], { input: "x\n" })
      assert.strictEqual(untrusted.code, 7, untrusted.stderr)
      assert.match(untrusted.stderr, /CertificateUntrusted/)
      const insecure = yield* etcp(["connect", "--tls", "--insecure", "127.0.0.1", port], { input: "anyway\n" })
      assert.strictEqual(insecure.code, 0, insecure.stderr)
      assert.strictEqual(insecure.stdout.toString(), "anyway\n")
      const usage = yield* etcp(["connect", "--cafile", certs.ca.certFile, "127.0.0.1", port])
      assert.strictEqual(usage.code, 2, usage.stderr)
    }))
})
