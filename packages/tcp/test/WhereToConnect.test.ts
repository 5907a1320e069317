import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Address from "../src/Address.js"
import * as WhereToConnect from "../src/WhereToConnect.js"

describe("WhereToConnect", () => {
  it("toString is the target", () => {
    assert.strictEqual(String(WhereToConnect.hostAndPort("example.com", 443)), "example.com:443")
    assert.strictEqual(`${WhereToConnect.hostAndPort("localhost", 6379, { viaLocalPort: 40000 })}`, "localhost:6379")
    assert.strictEqual(String(WhereToConnect.hostAndPort("::1", 80)), "[::1]:80")
    assert.strictEqual(String(WhereToConnect.hostAndPort("[::1]", 80)), "[::1]:80")
    assert.strictEqual(String(WhereToConnect.inetAddress(Address.inet("::ffff:127.0.0.1", 80))), "127.0.0.1:80")
    assert.strictEqual(String(WhereToConnect.file("/run/app.sock")), "/run/app.sock")
    assert.strictEqual(String(WhereToConnect.file("\0name")), "@name")
    assert.strictEqual(String(WhereToConnect.unixAddress(Address.unix("/tmp/s"))), "/tmp/s")
  })

  it("plain data: fields, JSON, Equal by value", () => {
    const target = WhereToConnect.hostAndPort("example.com", 443, { viaLocalInterface: "10.0.0.1" })
    assert.strictEqual(target._tag, "HostAndPort")
    if (target._tag === "HostAndPort") {
      assert.strictEqual(target.host, "example.com")
      assert.strictEqual(target.port, 443)
      assert.strictEqual(target.viaLocalInterface, "10.0.0.1")
      assert.strictEqual(target.viaLocalPort, undefined)
    }
    assert.include(JSON.stringify(target), "example.com:443")
    assert.isTrue(
      Equal.equals(target, WhereToConnect.hostAndPort("example.com", 443, { viaLocalInterface: "10.0.0.1" }))
    )
    assert.isFalse(Equal.equals(target, WhereToConnect.hostAndPort("example.com", 443)))
    assert.isFalse(Equal.equals(WhereToConnect.file("/a"), WhereToConnect.file("/b")))
    assert.isTrue(Equal.equals(WhereToConnect.file("/a"), WhereToConnect.file("/a")))
  })

  it("the address kind is in the type", () => {
    const inet: WhereToConnect.WhereToConnect<Address.Inet> = WhereToConnect.hostAndPort("localhost", 80)
    const unix: WhereToConnect.WhereToConnect<Address.Unix> = WhereToConnect.file("/tmp/s")
    // @ts-expect-error an inet target is not a Unix one
    const notUnix: WhereToConnect.WhereToConnect<Address.Unix> = inet
    // @ts-expect-error a Unix target is not an inet one
    const notInet: WhereToConnect.WhereToConnect<Address.Inet> = unix
    // Covariant: either is a target for "some address".
    const any: ReadonlyArray<WhereToConnect.WhereToConnect<Address.Address>> = [inet, unix]
    assert.strictEqual(any.length + [notUnix, notInet].length, 4)
  })

  it("constructors never throw, even on bad input (checked when connecting)", () => {
    assert.doesNotThrow(() => WhereToConnect.hostAndPort("", -1, { viaLocalPort: 1.5, viaLocalInterface: "nope" }))
    assert.doesNotThrow(() => WhereToConnect.file("x".repeat(500)))
    assert.doesNotThrow(() => WhereToConnect.inetAddress(Address.inet("not an ip", NaN)))
  })
})
