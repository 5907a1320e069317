/**
 * Test certificates, made at test time with the `openssl` command in a temp dir (once per test
 * process): a CA, a server certificate for localhost / 127.0.0.1 / ::1, a client certificate,
 * an expired server certificate, one for the wrong name, and a server certificate from a second
 * CA that nobody trusts. EC P-256 keys: generating them takes milliseconds.
 *
 * The equivalent shell commands, for a human reproducing a failure, are in `commands` below.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** A key and its certificate, as PEM text and as files. */
export interface KeyPair {
  readonly key: string
  readonly cert: string
  readonly keyFile: string
  readonly certFile: string
}

export interface TestCertificates {
  readonly dir: string
  /** The trusted test CA. */
  readonly ca: KeyPair
  /** Server: CN localhost, SANs DNS:localhost, IP:127.0.0.1, IP:::1; signed by `ca`. */
  readonly server: KeyPair
  /** Client certificate (clientAuth) signed by `ca`, for mutual TLS. */
  readonly client: KeyPair
  /** Server certificate for localhost / 127.0.0.1 / ::1, valid only in January 2020. */
  readonly expired: KeyPair
  /** Server certificate for `wrong.example` only, signed by `ca`. */
  readonly wrongName: KeyPair
  /** A second CA, trusted by nobody, and a server certificate for localhost it signed. */
  readonly otherCa: KeyPair
  readonly untrusted: KeyPair
  /** A certificate for `other.localhost` (SNI tests), signed by `ca`. */
  readonly sniOther: KeyPair
}

const openssl = (cwd: string, args: ReadonlyArray<string>): void => {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] })
}

const caConfig = `[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
`

const extensions = (sans: string, usage: "serverAuth" | "clientAuth") =>
  `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n` +
  (sans === "" ? "" : `subjectAltName=${sans}\n`)

const makeKey = (dir: string, name: string): void =>
  openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`])

const makeCa = (dir: string, name: string, cn: string): void => {
  makeKey(dir, name)
  openssl(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    `${name}.key`,
    "-sha256",
    "-days",
    "3650",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    `${name}.crt`
  ])
}

const makeLeaf = (
  dir: string,
  name: string,
  cn: string,
  ca: string,
  sans: string,
  usage: "serverAuth" | "clientAuth",
  validity: { readonly days: number } | { readonly start: string; readonly end: string } = { days: 825 }
): void => {
  makeKey(dir, name)
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`])
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions(sans, usage))
  if ("days" in validity) {
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      String(validity.days),
      "-sha256",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`
    ])
  } else {
    // `openssl x509` of OpenSSL 3.0 cannot backdate: `openssl ca` can (-startdate/-enddate).
    fs.writeFileSync(path.join(dir, "ca.cnf"), caConfig)
    fs.writeFileSync(path.join(dir, "index.txt"), "")
    fs.writeFileSync(path.join(dir, "serial"), "1000\n")
    openssl(dir, [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      `${ca}.crt`,
      "-keyfile",
      `${ca}.key`,
      "-in",
      `${name}.csr`,
      "-startdate",
      validity.start,
      "-enddate",
      validity.end,
      "-extfile",
      `${name}.ext`,
      "-notext",
      "-out",
      `${name}.crt`
    ])
  }
}

const pair = (dir: string, name: string): KeyPair => ({
  key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
  cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8"),
  keyFile: path.join(dir, `${name}.key`),
  certFile: path.join(dir, `${name}.crt`)
})

let made: TestCertificates | undefined

/**
 * The test certificates, made on first use in a fresh temp dir (removed when the process
 * exits). Throws when `openssl` is missing (the test command installs it).
 */
export const testCertificates = (): TestCertificates => {
  if (made !== undefined) return made
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-tcp-certs-"))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  const localhost = "DNS:localhost,IP:127.0.0.1,IP:::1"
  makeCa(dir, "ca", "effect-tcp test CA")
  makeLeaf(dir, "server", "localhost", "ca", localhost, "serverAuth")
  makeLeaf(dir, "client", "effect-tcp test client", "ca", "", "clientAuth")
  makeLeaf(dir, "expired", "localhost", "ca", localhost, "serverAuth", {
    start: "20200101000000Z",
    end: "20200131000000Z"
  })
  makeLeaf(dir, "wrongname", "wrong.example", "ca", "DNS:wrong.example", "serverAuth")
  makeLeaf(dir, "sniother", "other.localhost", "ca", "DNS:other.localhost", "serverAuth")
  makeCa(dir, "otherca", "effect-tcp untrusted CA")
  makeLeaf(dir, "untrusted", "localhost", "otherca", localhost, "serverAuth")
  made = {
    dir,
    ca: pair(dir, "ca"),
    server: pair(dir, "server"),
    client: pair(dir, "client"),
    expired: pair(dir, "expired"),
    wrongName: pair(dir, "wrongname"),
    otherCa: pair(dir, "otherca"),
    untrusted: pair(dir, "untrusted"),
    sniOther: pair(dir, "sniother")
  }
  return made
}
