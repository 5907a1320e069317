import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Address from "../src/Address.js"
import * as Tcp from "../src/Tcp.js"
import { ConnectError, InvalidArgument, ReadError, WriteError } from "../src/TcpError.js"
import * as WhereToConnect from "../src/WhereToConnect.js"
import { expectFdsBackTo, fdCount } from "./utils/fds.js"
import { rawServer } from "./utils/rawServer.js"

type Case = readonly [
  name: string,
  argument: string,
  where: (port: number) => WhereToConnect.WhereToConnect<Address.Address>,
  options?: Tcp.ConnectOptions
]

const inet = (port: number) => WhereToConnect.hostAndPort("127.0.0.1", port)

/** Every case is aimed at a live server: if validation let it through, a connection would open. */
const cases: ReadonlyArray<Case> = [
  ["port -1", "port", () => WhereToConnect.hostAndPort("127.0.0.1", -1)],
  ["port 65536", "port", () => WhereToConnect.hostAndPort("127.0.0.1", 65536)],
  ["port 1.5", "port", () => WhereToConnect.hostAndPort("127.0.0.1", 1.5)],
  ["port NaN", "port", () => WhereToConnect.hostAndPort("127.0.0.1", NaN)],
  ["inetAddress port -1", "address.port", () => WhereToConnect.inetAddress(Address.inet("127.0.0.1", -1))],
  ["inetAddress host not an IP", "address.host", (p) => WhereToConnect.inetAddress(Address.inet("localhost", p))],
  ["empty host", "host", (p) => WhereToConnect.hostAndPort("", p)],
  ["blank host", "host", (p) => WhereToConnect.hostAndPort("  ", p)],
  ["Unix path of 108 bytes", "path", () => WhereToConnect.file(`/tmp/${"x".repeat(103)}`)],
  ["Unix path of 108 UTF-8 bytes in 57 characters", "path", () => WhereToConnect.file(`/tmp/${"é".repeat(51)}x`)],
  ["empty Unix path", "path", () => WhereToConnect.file("")],
  ["unixAddress path too long", "address.path", () => WhereToConnect.unixAddress(Address.unix("/".repeat(200)))],
  ["readerBufferSize 0", "readerBufferSize", inet, { readerBufferSize: 0 }],
  ["readerBufferSize -1", "readerBufferSize", inet, { readerBufferSize: -1 }],
  ["readerBufferSize 1.5", "readerBufferSize", inet, { readerBufferSize: 1.5 }],
  ["readerBufferSize NaN", "readerBufferSize", inet, { readerBufferSize: NaN }],
  ["writerBufferSize 0", "writerBufferSize", inet, { writerBufferSize: 0 }],
  ["maxLineLength 0", "maxLineLength", inet, { maxLineLength: 0 }],
  ["negative timeout (number)", "timeout", inet, { timeout: -1 }],
  ["negative timeout (string)", "timeout", inet, { timeout: "-5 seconds" }],
  ["NaN timeout", "timeout", inet, { timeout: NaN }],
  ["timeout not a duration", "timeout", inet, { timeout: "soon" as never }],
  ["negative resolveTimeout", "resolveTimeout", inet, { resolveTimeout: -100 }],
  ["negative bufferAgeLimit", "bufferAgeLimit", inet, { bufferAgeLimit: -1 }],
  ["negative closeTimeout", "closeTimeout", inet, { closeTimeout: "-1 millis" }],
  ["negative keepAlive delay", "keepAlive", inet, { keepAlive: -1000 }],
  ["family 5", "family", inet, { family: 5 as never }],
  [
    "viaLocalInterface not an IP",
    "viaLocalInterface",
    (p) => WhereToConnect.hostAndPort("127.0.0.1", p, { viaLocalInterface: "eth0" })
  ],
  [
    "viaLocalInterface empty",
    "viaLocalInterface",
    (p) => WhereToConnect.hostAndPort("127.0.0.1", p, { viaLocalInterface: "" })
  ],
  ["viaLocalPort 65536", "viaLocalPort", (p) => WhereToConnect.hostAndPort("127.0.0.1", p, { viaLocalPort: 65536 })],
  ["viaLocalPort -1", "viaLocalPort", (p) => WhereToConnect.hostAndPort("127.0.0.1", p, { viaLocalPort: -1 })]
]

const expectInvalid = <A, E>(exit: Exit.Exit<A, E>, argument: string, name: string) => {
  assert.isTrue(Exit.isFailure(exit), `${name}: should fail`)
  if (Exit.isSuccess(exit)) return
  assert.isFalse(Cause.isDie(exit.cause), `${name}: a defect: ${Cause.pretty(exit.cause)}`)
  const error = Cause.failureOption(exit.cause)
  assert.isTrue(Option.isSome(error), `${name}: ${Cause.pretty(exit.cause)}`)
  const value = Option.getOrThrow(error)
  // A boolean check: chai's rendering of an error captured in a span recurses without end.
  assert.isTrue(value instanceof InvalidArgument, `${name}: got ${String(value)}`)
  if (value instanceof InvalidArgument) {
    assert.strictEqual(value._tag, "InvalidArgument")
    assert.strictEqual(value.argument, argument, name)
    assert.isAbove(value.message.length, argument.length, name)
  }
}

describe("Errors", () => {
  describe("InvalidArgument: bad input is a typed failure, never a throw or a defect, and opens nothing", () => {
    it.scopedLive("Tcp.connect", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const baseline = fdCount()
        for (const [name, argument, where, options] of cases) {
          const exit = yield* Effect.exit(Effect.scoped(Tcp.connect(where(server.port), options)))
          expectInvalid(exit, argument, name)
        }
        assert.strictEqual(server.sockets.size, 0, "no connection reached the server")
        yield* expectFdsBackTo(baseline, 1_000)
      }))

    it.scopedLive("Tcp.connectSock and Tcp.withConnection", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const baseline = fdCount()
        for (const [name, argument, where, options] of cases) {
          const only = options !== undefined && Object.keys(options).some((k) =>
            k === "readerBufferSize" || k === "writerBufferSize" || k === "maxLineLength" ||
            k === "bufferAgeLimit" || k === "closeTimeout"
          )
          // connectSock has no reader or writer: their options are not its business.
          if (!only) {
            expectInvalid(
              yield* Effect.exit(Effect.scoped(Tcp.connectSock(where(server.port), options))),
              argument,
              name
            )
          }
          expectInvalid(
            yield* Effect.exit(Tcp.withConnection(where(server.port), () => Effect.void, options)),
            argument,
            name
          )
        }
        assert.strictEqual(server.sockets.size, 0)
        yield* expectFdsBackTo(baseline, 1_000)
      }))

    it.scopedLive("boundaries that are valid", () =>
      Effect.gen(function*() {
        const server = yield* rawServer()
        const ok = [
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
            readerBufferSize: 1,
            writerBufferSize: 1,
            maxLineLength: Infinity,
            timeout: "5 seconds",
            bufferAgeLimit: "unlimited",
            closeTimeout: 0
          }),
          Tcp.connect(WhereToConnect.hostAndPort("127.0.0.1", server.port), {
            timeout: Infinity,
            keepAlive: "1 second"
          })
        ]
        for (const connect of ok) yield* Effect.scoped(connect)
      }))
  })

  it("errors carry a reason and a readable message", () => {
    const connect = new ConnectError({ reason: "Refused", target: "127.0.0.1:1", attempts: [] })
    assert.strictEqual(connect._tag, "ConnectError")
    assert.include(connect.message, "127.0.0.1:1")
    assert.include(connect.message, "Refused")
    assert.include(new ReadError({ reason: "UnexpectedEof", partial: new Uint8Array(3) }).message, "3 bytes")
    assert.include(new WriteError({ reason: "ConsumerLeft" }).message, "peer")
    assert.strictEqual(new InvalidArgument({ argument: "port", message: "port: bad" }).message, "port: bad")
  })

  it("a ConnectError names each attempt's address as Address.format does", () => {
    const addresses = [Address.inet("::1", 7000), Address.inet("127.0.0.1", 7000), Address.unix("\0effect-tcp")]
    const error = new ConnectError({
      reason: "Refused",
      target: "localhost:7000",
      attempts: addresses.map((address) => ({ address, reason: "Refused" as const, cause: undefined }))
    })
    for (const address of addresses) assert.include(error.message, `${Address.format(address)}: Refused`)
    assert.include(error.message, "@effect-tcp: Refused")
  })
})
