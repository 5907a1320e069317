import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as HashSet from "effect/HashSet"
import * as fc from "fast-check"
import * as Address from "../src/Address.js"

describe("Address", () => {
  it("IPv4-mapped IPv6 is reported as IPv4", () => {
    assert.strictEqual(Address.inet("::ffff:127.0.0.1", 80).host, "127.0.0.1")
    assert.strictEqual(Address.inet("::FFFF:7F00:1", 80).host, "127.0.0.1")
    assert.strictEqual(Address.inet("0:0:0:0:0:ffff:10.1.2.3", 80).host, "10.1.2.3")
  })

  it("IPv6 hosts take their canonical form (RFC 5952); zone ids are kept", () => {
    const cases: Array<[string, string]> = [
      ["::1", "::1"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["::", "::"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
      ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["FE80::0001%eth0", "fe80::1%eth0"],
      ["fe80:0:0:0:0:0:0:1%2", "fe80::1%2"]
    ]
    for (const [input, expected] of cases) assert.strictEqual(Address.normalizeHost(input), expected, input)
  })

  it("IPv4 literals, names and non-addresses are left alone", () => {
    for (const host of ["127.0.0.1", "localhost", "example.com", "not:an:address", "1:2:3"]) {
      assert.strictEqual(Address.normalizeHost(host), host)
    }
  })

  it("normalisation agrees with the WHATWG URL serializer and is idempotent (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        (groups, upper) => {
          const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff
          fc.pre(!mapped)
          let text = groups.map((g) => g.toString(16).padStart(upper ? 4 : 1, "0")).join(":")
          if (upper) text = text.toUpperCase()
          const normal = Address.normalizeHost(text)
          assert.strictEqual(normal, new URL(`http://[${text}]/`).hostname.slice(1, -1))
          assert.strictEqual(Address.normalizeHost(normal), normal)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("Equal and Hash by value", () => {
    const a = Address.inet("::FFFF:127.0.0.1", 80)
    const b = Address.inet("127.0.0.1", 80)
    assert.isTrue(Equal.equals(a, b))
    assert.strictEqual(Hash.hash(a), Hash.hash(b))
    assert.isFalse(Equal.equals(a, Address.inet("127.0.0.1", 81)))
    assert.isTrue(Equal.equals(Address.inet("2001:DB8::1", 1), Address.inet("2001:db8:0:0:0:0:0:1", 1)))
    assert.isTrue(Equal.equals(Address.unix("/tmp/s"), Address.unix("/tmp/s")))
    assert.isFalse(Equal.equals(Address.unix("/tmp/s"), Address.unix("/tmp/t")))
    assert.strictEqual(HashSet.size(HashSet.make(a, b, Address.inet("127.0.0.1", 80))), 1)
    assert.deepStrictEqual({ ...b }, { _tag: "Inet", host: "127.0.0.1", port: 80 })
  })

  it("guards and format", () => {
    const inet = Address.inet("::1", 80)
    const unix = Address.unix("/run/app.sock")
    assert.isTrue(Address.isInet(inet))
    assert.isTrue(Address.isUnix(unix))
    assert.strictEqual(Address.format(inet), "[::1]:80")
    assert.strictEqual(Address.format(Address.inet("127.0.0.1", 80)), "127.0.0.1:80")
    assert.strictEqual(Address.format(unix), "/run/app.sock")
    assert.strictEqual(Address.format(Address.unix("\0name")), "@name")
  })
})
