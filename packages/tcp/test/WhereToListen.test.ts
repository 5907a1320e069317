import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as fc from "fast-check"
import type { Address } from "../src/index.js"
import { BindToAddress, BindToPort, type Server, WhereToListen } from "../src/index.js"

describe("WhereToListen", () => {
  it("builds the inet and Unix variants", () => {
    const where = WhereToListen.bindTo(BindToAddress.Address("::1"), BindToPort.OnPort(8080))
    assert.strictEqual(where._tag, "Inet")
    assert.deepStrictEqual(where.address, BindToAddress.Address("::1"))
    assert.strictEqual(where.address._tag === "Address" && where.address.ip, "::1")
    assert.deepStrictEqual(where.port, BindToPort.OnPort(8080))

    const onPort = WhereToListen.onPort(7000)
    assert.strictEqual(onPort.address._tag, "AllAddresses")
    assert.strictEqual(onPort.port._tag === "OnPort" && onPort.port.port, 7000)

    assert.strictEqual(WhereToListen.onPortChosenByOs.address._tag, "AllAddresses")
    assert.strictEqual(WhereToListen.onPortChosenByOs.port._tag, "OnPortChosenByOs")

    const file = WhereToListen.onFile("/run/app.sock")
    assert.strictEqual(file._tag, "Unix")
    assert.strictEqual(file.path, "/run/app.sock")
    assert.isTrue(WhereToListen.isUnix(file))
    assert.isTrue(WhereToListen.isInet(onPort))
  })

  it("constructors never throw, whatever the input (checked when a server starts)", () => {
    assert.doesNotThrow(() => WhereToListen.onPort(-1))
    assert.doesNotThrow(() => WhereToListen.onPort(Number.NaN))
    assert.doesNotThrow(() => WhereToListen.onFile(""))
    assert.doesNotThrow(() => BindToAddress.Address("not an ip"))
  })

  it("values are plain data with structural equality", () => {
    assert.isTrue(Equal.equals(WhereToListen.onPort(80), WhereToListen.onPort(80)))
    assert.isFalse(Equal.equals(WhereToListen.onPort(80), WhereToListen.onPort(81)))
    assert.isTrue(
      Equal.equals(
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)
      )
    )
    assert.isFalse(
      Equal.equals(
        WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
        WhereToListen.onPortChosenByOs
      )
    )
    assert.isTrue(Equal.equals(WhereToListen.onFile("/a"), WhereToListen.onFile("/a")))
    assert.isTrue(Equal.equals(BindToAddress.Address("10.0.0.1"), BindToAddress.Address("10.0.0.1")))
    assert.isTrue(Equal.equals(BindToPort.OnPortChosenByOs, BindToPort.OnPortChosenByOs))
    assert.isFalse(Equal.equals(BindToPort.OnPort(0), BindToPort.OnPortChosenByOs))
  })

  it("equal values hash equally (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.ipV4(), (port, ip) => {
        const a = WhereToListen.bindTo(BindToAddress.Address(ip), BindToPort.OnPort(port))
        const b = WhereToListen.bindTo(BindToAddress.Address(ip), BindToPort.OnPort(port))
        return Equal.equals(a, b) && Hash.hash(a) === Hash.hash(b)
      }),
      { numRuns: 50 }
    )
  })

  it("formats for logs", () => {
    assert.strictEqual(WhereToListen.format(WhereToListen.onPort(8080)), "[::]:8080")
    assert.strictEqual(WhereToListen.format(WhereToListen.onPortChosenByOs), "[::]:0")
    assert.strictEqual(
      WhereToListen.format(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(1))),
      "127.0.0.1:1"
    )
    assert.strictEqual(
      WhereToListen.format(WhereToListen.bindTo(BindToAddress.Address("::1"), BindToPort.OnPort(5))),
      "[::1]:5"
    )
    assert.strictEqual(WhereToListen.format(WhereToListen.onFile("/tmp/x.sock")), "/tmp/x.sock")
    assert.strictEqual(BindToPort.toNumber(BindToPort.OnPortChosenByOs), 0)
    assert.strictEqual(BindToAddress.format(BindToAddress.AllAddresses), "::")
  })

  it("matches variants", () => {
    const describeAddress = BindToAddress.$match({
      Address: ({ ip }) => `ip ${ip}`,
      AllAddresses: () => "all",
      Localhost: () => "loopback"
    })
    assert.strictEqual(describeAddress(BindToAddress.Address("::1")), "ip ::1")
    assert.strictEqual(describeAddress(BindToAddress.AllAddresses), "all")
    assert.strictEqual(describeAddress(BindToAddress.Localhost), "loopback")
    assert.isTrue(BindToPort.$is("OnPortChosenByOs")(BindToPort.OnPortChosenByOs))
  })

  it("the kind of WhereToListen decides the server's types", () => {
    const inet: Server.ListeningOn<WhereToListen.Inet> = 8080
    const unix: Server.ListeningOn<WhereToListen.Unix> = "/run/x.sock"
    const inetAddress: Server.AddressOf<WhereToListen.Inet> = { _tag: "Inet", host: "127.0.0.1", port: 1 }
    const unixAddress: Server.AddressOf<WhereToListen.Unix> = { _tag: "Unix", path: "/run/x.sock" }
    // @ts-expect-error an inet server listens on a port, not a path
    const wrong: Server.ListeningOn<WhereToListen.Inet> = "/run/x.sock"
    // @ts-expect-error a Unix server's connections have Unix addresses
    const wrongAddress: Server.AddressOf<WhereToListen.Unix> = { _tag: "Inet", host: "127.0.0.1", port: 1 }
    const either: Address.Address = inetAddress
    assert.deepStrictEqual([inet, unix, unixAddress.path, wrong, wrongAddress._tag, either._tag], [
      8080,
      "/run/x.sock",
      "/run/x.sock",
      "/run/x.sock",
      "Inet",
      "Inet"
    ])
  })
})
