/**
 * A small Redis-compatible server (RESP2) on effect-tcp: PING, ECHO, SET (EX/PX/NX/XX), GET,
 * DEL, EXISTS, INCR, DBSIZE, FLUSHALL, plus the handful of commands redis-cli and
 * redis-benchmark send when they start. Keys live in memory, in one Map shared by every
 * connection (JavaScript runs one handler step at a time, so no lock is needed).
 *
 * Run it:  pnpm tsx packages/examples/resp-server/main.ts --port 6380
 * Try it:  redis-cli -p 6380 set greeting hello && redis-cli -p 6380 get greeting
 *
 * Each connection reads commands one at a time with the buffered `Reader` (`readLine` for
 * headers, `readExactly` for bulk strings) and answers through the `Writer`, whose writes of one
 * event-loop turn go out in one syscall: pipelined clients (`redis-benchmark -P 16`) get their
 * replies batched without any code for it here.
 *
 * @since 0.1.0
 */
import {
  type Address,
  BindToAddress,
  BindToPort,
  type Connection,
  type Reader,
  Server,
  type TcpError,
  WhereToListen
} from "effect-tcp"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { pathToFileURL } from "node:url"

// -------------------------------------------------------------------------------------------
// Protocol
// -------------------------------------------------------------------------------------------

/**
 * The client broke the protocol: the server answers `-ERR Protocol error: …` and closes the
 * connection, as Redis does.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{ readonly detail: string }> {
  override get message(): string {
    return `Protocol error: ${this.detail}`
  }
}

/**
 * Longest bulk string accepted. Redis's default `proto-max-bulk-len` is 512 MiB; here it is
 * 8 MiB, and the server's `maxReadLength` is set to match, so one client holds at most that.
 */
const maxBulkLength = 8 * 1024 * 1024
/** Most arguments in one command (Redis accepts 1024*1024). */
const maxArguments = 1024 * 1024

const parseCount = (line: string, what: string): Effect.Effect<number, ProtocolError> => {
  const n = /^-?[0-9]+$/.test(line) ? Number(line) : NaN
  return Number.isSafeInteger(n) ? Effect.succeed(n) : Effect.fail(new ProtocolError({ detail: `invalid ${what}` }))
}

/**
 * Reads the next command: a RESP array of bulk strings (what clients send), or an inline
 * command (`PING\r\n`, what telnet users and `redis-benchmark`'s PING_INLINE send). `none` at
 * end of stream; an empty array or blank line yields an empty command, which is ignored.
 *
 * @since 0.1.0
 * @category protocol
 */
export const readCommand = (
  reader: Reader.Reader
): Effect.Effect<
  Option.Option<ReadonlyArray<Uint8Array>>,
  TcpError.ReadError | TcpError.InvalidArgument | ProtocolError
> =>
  Effect.gen(function*() {
    const header = yield* reader.readLine
    if (Option.isNone(header)) return Option.none()
    const line = header.value
    if (!line.startsWith("*")) {
      const words = line.split(/[ \t]+/).filter((w) => w.length > 0)
      return Option.some(words.map((w) => Buffer.from(w, "utf8")))
    }
    const count = yield* parseCount(line.slice(1), "multibulk length")
    if (count > maxArguments) return yield* Effect.fail(new ProtocolError({ detail: "invalid multibulk length" }))
    const args: Array<Uint8Array> = []
    for (let i = 0; i < count; i++) {
      const bulkHeader = yield* reader.readLine
      if (Option.isNone(bulkHeader)) {
        return yield* Effect.fail(new ProtocolError({ detail: "unexpected end of stream in a command" }))
      }
      if (!bulkHeader.value.startsWith("$")) {
        return yield* Effect.fail(
          new ProtocolError({ detail: `expected '$', got '${bulkHeader.value.slice(0, 1)}'` })
        )
      }
      const length = yield* parseCount(bulkHeader.value.slice(1), "bulk length")
      if (length < 0 || length > maxBulkLength) {
        return yield* Effect.fail(new ProtocolError({ detail: "invalid bulk length" }))
      }
      const bytes = yield* reader.readExactly(length + 2)
      if (bytes[length] !== 13 || bytes[length + 1] !== 10) {
        return yield* Effect.fail(new ProtocolError({ detail: "bulk string not followed by CRLF" }))
      }
      args.push(bytes.subarray(0, length))
    }
    return Option.some(args)
  })

/**
 * A reply, in RESP2.
 *
 * @since 0.1.0
 * @category protocol
 */
export type Reply =
  | { readonly _tag: "Simple"; readonly value: string }
  | { readonly _tag: "Error"; readonly value: string }
  | { readonly _tag: "Integer"; readonly value: number }
  | { readonly _tag: "Bulk"; readonly value: Uint8Array | null }
  | { readonly _tag: "Array"; readonly value: ReadonlyArray<Reply> }

const simple = (value: string): Reply => ({ _tag: "Simple", value })
const error = (value: string): Reply => ({ _tag: "Error", value })
const integer = (value: number): Reply => ({ _tag: "Integer", value })
const bulk = (value: Uint8Array | string | null): Reply => ({
  _tag: "Bulk",
  value: typeof value === "string" ? Buffer.from(value, "utf8") : value
})
const array = (value: ReadonlyArray<Reply>): Reply => ({ _tag: "Array", value })
const ok = simple("OK")
const pong = simple("PONG")
const nil = bulk(null)

/**
 * Encodes a reply as bytes (RESP2).
 *
 * @since 0.1.0
 * @category protocol
 */
export const encode = (reply: Reply): Uint8Array => {
  const parts: Array<Uint8Array> = []
  const go = (r: Reply): void => {
    switch (r._tag) {
      case "Simple":
        parts.push(Buffer.from(`+${r.value}\r\n`))
        break
      case "Error":
        parts.push(Buffer.from(`-${r.value.replace(/[\r\n]+/g, " ")}\r\n`))
        break
      case "Integer":
        parts.push(Buffer.from(`:${r.value}\r\n`))
        break
      case "Bulk":
        if (r.value === null) parts.push(Buffer.from("$-1\r\n"))
        else parts.push(Buffer.from(`$${r.value.length}\r\n`), r.value, Buffer.from("\r\n"))
        break
      case "Array":
        parts.push(Buffer.from(`*${r.value.length}\r\n`))
        r.value.forEach(go)
        break
    }
  }
  go(reply)
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

// -------------------------------------------------------------------------------------------
// The keyspace
// -------------------------------------------------------------------------------------------

/**
 * The in-memory keyspace: binary-safe keys (as latin1 strings, one char per byte) and values,
 * with optional expiry (checked lazily, when a key is touched).
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly data: Map<string, { value: Uint8Array; expiresAt: number | undefined }>
}

/**
 * An empty keyspace.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStore = (): Store => ({ data: new Map() })

const key = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")
const text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")

const lookup = (store: Store, k: string): Uint8Array | undefined => {
  const entry = store.data.get(k)
  if (entry === undefined) return undefined
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.data.delete(k)
    return undefined
  }
  return entry.value
}

const arity = (name: string) => error(`ERR wrong number of arguments for '${name}' command`)
const syntax = error("ERR syntax error")
const notInteger = error("ERR value is not an integer or out of range")

const set = (store: Store, args: ReadonlyArray<Uint8Array>): Reply => {
  if (args.length < 3) return arity("set")
  let expiresAt: number | undefined
  let condition: "NX" | "XX" | undefined
  let returnOld = false
  let keepTtl = false
  for (let i = 3; i < args.length; i++) {
    const option = text(args[i]!).toUpperCase()
    if (option === "NX" || option === "XX") {
      if (condition !== undefined && condition !== option) return syntax
      condition = option
    } else if (option === "GET") returnOld = true
    else if (option === "KEEPTTL") keepTtl = true
    else if (option === "EX" || option === "PX" || option === "EXAT" || option === "PXAT") {
      const amount = i + 1 < args.length ? Number(text(args[++i]!)) : NaN
      if (!Number.isSafeInteger(amount)) return notInteger
      if (amount <= 0) return error("ERR invalid expire time in 'set' command")
      expiresAt = option === "EX"
        ? Date.now() + amount * 1000
        : option === "PX"
        ? Date.now() + amount
        : option === "EXAT"
        ? amount * 1000
        : amount
    } else return syntax
  }
  const k = key(args[1]!)
  const old = lookup(store, k)
  const reply = returnOld ? bulk(old ?? null) : ok
  if ((condition === "NX" && old !== undefined) || (condition === "XX" && old === undefined)) {
    return returnOld ? reply : nil
  }
  const previous = store.data.get(k)
  store.data.set(k, {
    value: Uint8Array.from(args[2]!),
    expiresAt: keepTtl && previous !== undefined ? previous.expiresAt : expiresAt
  })
  return reply
}

const incrBy = (store: Store, keyBytes: Uint8Array, by: number): Reply => {
  const k = key(keyBytes)
  const current = lookup(store, k)
  const n = current === undefined ? 0 : /^-?[0-9]+$/.test(text(current)) ? Number(text(current)) : NaN
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(n + by)) return notInteger
  const entry = store.data.get(k)
  store.data.set(k, { value: Buffer.from(String(n + by)), expiresAt: entry?.expiresAt })
  return integer(n + by)
}

/** Values `CONFIG GET` reports (redis-benchmark asks for `save` and `appendonly` on start). */
const config: Record<string, string> = { save: "", appendonly: "no", databases: "1" }

/**
 * Runs one command against the store.
 *
 * @since 0.1.0
 * @category commands
 */
export const execute = (store: Store, args: ReadonlyArray<Uint8Array>): Reply => {
  const name = text(args[0]!).toLowerCase()
  switch (name) {
    case "ping":
      return args.length === 1 ? pong : args.length === 2 ? bulk(args[1]!) : arity(name)
    case "echo":
      return args.length === 2 ? bulk(args[1]!) : arity(name)
    case "set":
      return set(store, args)
    case "get": {
      if (args.length !== 2) return arity(name)
      return bulk(lookup(store, key(args[1]!)) ?? null)
    }
    case "del":
    case "unlink": {
      if (args.length < 2) return arity(name)
      let n = 0
      for (const k of args.slice(1)) {
        if (lookup(store, key(k)) !== undefined) n++
        store.data.delete(key(k))
      }
      return integer(n)
    }
    case "exists": {
      if (args.length < 2) return arity(name)
      return integer(args.slice(1).filter((k) => lookup(store, key(k)) !== undefined).length)
    }
    case "incr":
      return args.length === 2 ? incrBy(store, args[1]!, 1) : arity(name)
    case "decr":
      return args.length === 2 ? incrBy(store, args[1]!, -1) : arity(name)
    case "incrby": {
      if (args.length !== 3) return arity(name)
      const by = Number(text(args[2]!))
      return Number.isSafeInteger(by) ? incrBy(store, args[1]!, by) : notInteger
    }
    case "dbsize":
      return args.length === 1 ? integer(store.data.size) : arity(name)
    case "flushall":
    case "flushdb":
      store.data.clear()
      return ok
    case "select":
      return args.length !== 2 ? arity(name) : text(args[1]!) === "0" ? ok : error("ERR DB index is out of range")
    case "config": {
      if (args.length === 3 && text(args[1]!).toLowerCase() === "get") {
        const pattern = text(args[2]!).toLowerCase()
        return array(
          Object.entries(config)
            .filter(([k]) => pattern === "*" || pattern === k)
            .flatMap(([k, v]) => [bulk(k), bulk(v)])
        )
      }
      return error("ERR only CONFIG GET is supported")
    }
    case "command":
      // redis-cli asks for command docs at start-up; an empty answer means "no hints".
      return array([])
    case "client":
      return ok
    default: {
      // Redis's wording, byte for byte: each argument quoted and followed by a space, up to 128 chars.
      let start = ""
      for (let i = 1; i < args.length && start.length < 128; i++) {
        start += `'${text(args[i]!).slice(0, 128 - start.length)}' `
      }
      return error(`ERR unknown command '${text(args[0]!).slice(0, 128)}', with args beginning with: ${start}`)
    }
  }
}

/**
 * Serves one connection: read a command, answer, until the client leaves or sends `QUIT`. A
 * protocol error is answered and ends the connection.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = (store: Store) =>
<A extends Address.Address>(
  connection: Connection.Connection<A>
): Effect.Effect<void, TcpError.ReadError | TcpError.WriteError | TcpError.InvalidArgument> =>
  Effect.gen(function*() {
    while (true) {
      const command = yield* readCommand(connection.reader)
      if (Option.isNone(command)) return
      const args = command.value
      if (args.length === 0) continue
      if (text(args[0]!).toLowerCase() === "quit") {
        yield* connection.writer.write(encode(ok))
        return
      }
      yield* connection.writer.write(encode(execute(store, args)))
    }
  }).pipe(
    Effect.catchTag("ProtocolError", (e) => connection.writer.write(encode(error(`ERR ${e.message}`))))
  )

/**
 * A RESP server on `where`, for the life of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <W extends WhereToListen.WhereToListen>(where: W, store: Store = makeStore()) =>
  Server.make(where, handler(store), { onHandlerError: "ignore", maxReadLength: maxBulkLength + 2 })

/**
 * A RESP server on the loopback interface, on a port the OS chooses (for tests).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLocal = (store: Store = makeStore()): Effect.Effect<
  Server.Server<Address.Inet, number, TcpError.ReadError | TcpError.WriteError | TcpError.InvalidArgument>,
  TcpError.ListenError | TcpError.InvalidArgument,
  Scope.Scope
> => make(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs), store)

const main = Effect.gen(function*() {
  const argv = process.argv.slice(2)
  const flag = (name: string) => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const port = Number(flag("--port") ?? "6379")
  const host = flag("--host") ?? "127.0.0.1"
  const where = WhereToListen.bindTo(
    host === "localhost" ? BindToAddress.Localhost : BindToAddress.Address(host),
    port === 0 ? BindToPort.OnPortChosenByOs : BindToPort.OnPort(port)
  )
  const server = yield* make(where)
  yield* Effect.sync(() => console.error(`resp-server: listening on ${host} port ${server.listeningOn}`))
  return yield* Effect.never
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const controller = new AbortController()
  process.once("SIGINT", () => controller.abort())
  process.once("SIGTERM", () => controller.abort())
  Effect.runPromiseExit(Effect.scoped(main), { signal: controller.signal }).then((exit) => {
    if (exit._tag === "Failure" && !controller.signal.aborted) {
      console.error(`resp-server: ${String(exit.cause)}`)
      process.exit(1)
    }
    process.exit(0)
  })
}
