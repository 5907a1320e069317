import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Address from "../src/Address.js"
import { BindToAddress, BindToPort, type Connection, Server, Tcp, WhereToConnect, WhereToListen } from "../src/index.js"
import { listenReason } from "../src/internal/errno.js"
import { isNormalEnd } from "../src/internal/server.js"
import { ReadError, WriteError } from "../src/TcpError.js"
import { eventually } from "./utils/eventually.js"
import { fdCount } from "./utils/fds.js"
import { rawServer } from "./utils/rawServer.js"
import { ask, echo, localhost, target } from "./utils/server.js"

// Real sockets only: 127.0.0.1 and ::1, ports chosen by the OS.

const refused = (port: number) =>
  Effect.map(
    Effect.flip(Tcp.withConnection(target(port), () => Effect.void)),
    (error) => error._tag === "ConnectError" && error.reason === "Refused"
  )

/** A logger that keeps what it is given. */
const captureLogs = () => {
  const logs: Array<{ readonly level: string; readonly cause: Cause.Cause<unknown> }> = []
  const logger = Logger.make(({ cause, logLevel }) => {
    logs.push({ level: logLevel.label, cause })
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("Server", () => {
  describe("listening", () => {
    it.scopedLive("serves on 127.0.0.1 with an OS-chosen port, typed as a number", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, echo)
        const port: number = server.listeningOn
        assert.isAbove(port, 0)
        assert.deepStrictEqual(server.listeningOnAddress, Address.inet("127.0.0.1", port))
        assert.deepStrictEqual(yield* ask(port, "hello"), Option.some("hello"))
        assert.isFalse(yield* server.isClosed)
        assert.isTrue(Server.isServer(server))
        assert.isFalse(Server.isServer({}))
        assert.strictEqual(String(server), `Server(127.0.0.1:${port})`)
      }))

    it.scopedLive("the handler sees typed addresses of the connection", () =>
      Effect.gen(function*() {
        const seen = yield* Deferred.make<{ remote: Address.Inet; local: Address.Inet }>()
        const server = yield* Server.make(localhost, (conn) =>
          Effect.zipRight(
            Deferred.succeed(seen, { remote: conn.socket.remoteAddress, local: conn.socket.localAddress }),
            conn.writer.writeLine("hi")
          ))
        const client = yield* Tcp.connect(target(server.listeningOn))
        yield* client.reader.readLine
        const { local, remote } = yield* Deferred.await(seen)
        assert.deepStrictEqual(remote, client.socket.localAddress)
        assert.deepStrictEqual(local, Address.inet("127.0.0.1", server.listeningOn))
        // The port is a number: no narrowing needed.
        assert.strictEqual(typeof remote.port, "number")
      }))

    it.scopedLive("AllAddresses takes IPv4 and IPv6 clients, IPv4 reported as plain IPv4", () =>
      Effect.gen(function*() {
        const remotes = yield* Ref.make<Array<string>>([])
        const server = yield* Server.make(WhereToListen.onPortChosenByOs, (conn) =>
          Effect.zipRight(
            Ref.update(remotes, (all) => [...all, conn.socket.remoteAddress.host]),
            echo(conn)
          ))
        assert.strictEqual(server.listeningOnAddress.host, "::")
        assert.deepStrictEqual(yield* ask(server.listeningOn, "v4"), Option.some("v4"))
        const v6 = yield* Tcp.withConnection(
          WhereToConnect.hostAndPort("::1", server.listeningOn),
          (conn) => Effect.zipRight(conn.writer.writeLine("v6"), conn.reader.readLine)
        )
        assert.deepStrictEqual(v6, Option.some("v6"))
        assert.deepStrictEqual((yield* Ref.get(remotes)).sort(), ["127.0.0.1", "::1"])
      }))

    it.scopedLive("binds one IPv6 address", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(
          WhereToListen.bindTo(BindToAddress.Address("::1"), BindToPort.OnPortChosenByOs),
          (conn) => conn.writer.writeLine(conn.socket.remoteAddress.host)
        )
        assert.deepStrictEqual(server.listeningOnAddress, Address.inet("::1", server.listeningOn))
        const line = yield* Tcp.withConnection(
          WhereToConnect.hostAndPort("::1", server.listeningOn),
          (conn) => conn.reader.readLine
        )
        assert.deepStrictEqual(line, Option.some("::1"))
      }))

    it.scopedLive("binds a given port", () =>
      Effect.gen(function*() {
        // Find a free port, then ask for it.
        const free = yield* Effect.scoped(Effect.map(Server.make(localhost, echo), (s) => s.listeningOn))
        const server = yield* Server.make(
          WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(free)),
          echo
        )
        assert.strictEqual(server.listeningOn, free)
        assert.deepStrictEqual(yield* ask(free, "same port"), Option.some("same port"))
      }))

    it.scopedLive("SO_REUSEADDR: a port can be bound again at once after a server with connections closed", () =>
      Effect.gen(function*() {
        const where = (port: number) => WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(port))
        const port = yield* Effect.scoped(Effect.gen(function*() {
          // The server closes its side first, so the port's connection is left in TIME_WAIT here.
          const server = yield* Server.make(localhost, (conn) => conn.writer.writeLine("bye"))
          const client = yield* Tcp.connect(target(server.listeningOn))
          assert.deepStrictEqual(yield* client.reader.readLine, Option.some("bye"))
          assert.deepStrictEqual(yield* client.reader.readLine, Option.none())
          return server.listeningOn
        }))
        const again = yield* Server.make(where(port), echo)
        assert.strictEqual(again.listeningOn, port)
        assert.deepStrictEqual(yield* ask(port, "again"), Option.some("again"))
      }))

    it.scopedLive("an address in use is a ListenError AddressInUse, and nothing leaks", () =>
      Effect.gen(function*() {
        const { port } = yield* rawServer()
        const before = fdCount()
        const error = yield* Effect.flip(
          Effect.scoped(Server.make(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPort(port)), echo))
        )
        assert.strictEqual(error._tag, "ListenError")
        assert.strictEqual(error._tag === "ListenError" && error.reason, "AddressInUse")
        assert.include(error.message, `127.0.0.1:${port}`)
        assert.strictEqual(fdCount(), before)
      }))

    it.scopedLive("an address that is not local is AddressNotAvailable", () =>
      Effect.gen(function*() {
        const before = fdCount()
        const error = yield* Effect.flip(
          Effect.scoped(
            Server.make(WhereToListen.bindTo(BindToAddress.Address("192.0.2.1"), BindToPort.OnPortChosenByOs), echo)
          )
        )
        assert.strictEqual(error._tag === "ListenError" && error.reason, "AddressNotAvailable")
        assert.strictEqual(fdCount(), before)
      }))

    it.scopedLive("a path the process may not create is PermissionDenied", () =>
      Effect.gen(function*() {
        // /proc refuses new files to everyone, root included.
        const error = yield* Effect.flip(
          Effect.scoped(Server.make(WhereToListen.onFile(`/proc/effect-tcp-${process.pid}.sock`), echo))
        )
        assert.strictEqual(error._tag === "ListenError" && error.reason, "PermissionDenied")
      }))

    it("maps listen errors to reasons", () => {
      assert.strictEqual(listenReason({ code: "EADDRINUSE" }), "AddressInUse")
      assert.strictEqual(listenReason({ code: "EACCES" }), "PermissionDenied")
      assert.strictEqual(listenReason({ code: "EPERM" }), "PermissionDenied")
      assert.strictEqual(listenReason({ code: "EADDRNOTAVAIL" }), "AddressNotAvailable")
      assert.strictEqual(listenReason({ code: "ENOENT" }), "Unknown")
      assert.strictEqual(listenReason(undefined), "Unknown")
    })

    it.scopedLive("bad arguments are InvalidArgument, before any descriptor is opened", () =>
      Effect.gen(function*() {
        const before = fdCount()
        const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, Scope.Scope>]> = [
          ["port", Server.make(WhereToListen.onPort(70000), echo)],
          ["port", Server.make(WhereToListen.onPort(-1), echo)],
          ["port", Server.make(WhereToListen.onPort(1.5), echo)],
          ["port", Server.make(WhereToListen.onPort(Number.NaN), echo)],
          [
            "address",
            Server.make(WhereToListen.bindTo(BindToAddress.Address("not a host"), BindToPort.OnPort(1)), echo)
          ],
          ["address", Server.make(WhereToListen.bindTo(BindToAddress.Address(""), BindToPort.OnPort(1)), echo)],
          ["path", Server.make(WhereToListen.onFile("/tmp/" + "x".repeat(200)), echo)],
          ["path", Server.make(WhereToListen.onFile(""), echo)],
          ["where", Server.make({} as WhereToListen.WhereToListen, echo)],
          ["maxConnections", Server.make(localhost, echo, { maxConnections: -1 })],
          ["maxConnections", Server.make(localhost, echo, { maxConnections: 0 })],
          ["backlog", Server.make(localhost, echo, { backlog: -1 })],
          ["maxAcceptsPerBatch", Server.make(localhost, echo, { maxAcceptsPerBatch: 0 })],
          ["readerBufferSize", Server.make(localhost, echo, { readerBufferSize: -5 })],
          ["writerBufferSize", Server.make(localhost, echo, { writerBufferSize: 0 })],
          ["maxLineLength", Server.make(localhost, echo, { maxLineLength: 1.5 })],
          ["shutdownGracePeriod", Server.make(localhost, echo, { shutdownGracePeriod: "soon" as never })],
          ["idleTimeout", Server.make(localhost, echo, { idleTimeout: -1 })],
          ["keepAlive", Server.make(localhost, echo, { keepAlive: -1 })],
          ["shutdownGracePeriod", Server.make(localhost, echo, { shutdownGracePeriod: -5 })],
          ["closeTimeout", Server.make(localhost, echo, { closeTimeout: "never" as never })],
          ["dropIncomingConnections", Server.make(localhost, echo, { dropIncomingConnections: "yes" as never })],
          ["onHandlerError", Server.make(localhost, echo, { onHandlerError: "explode" as never })]
        ]
        for (const [argument, make] of cases) {
          const exit = yield* Effect.exit(Effect.scoped(make))
          assert.isTrue(Exit.isFailure(exit), argument)
          if (Exit.isFailure(exit)) {
            const error = Cause.failureOption(exit.cause)
            assert.isTrue(Option.isSome(error), `${argument}: a typed failure, not a defect`)
            const value = Option.getOrThrow(error) as { _tag: string; argument: string }
            assert.strictEqual(value._tag, "InvalidArgument", argument)
            assert.strictEqual(value.argument, argument)
          }
        }
        assert.strictEqual(fdCount(), before)
      }))
  })

  describe("closing", () => {
    it.scopedLive("close stops accepting at once; existing connections go on; idempotent", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, echo)
        const port = server.listeningOn
        const client = yield* Tcp.connect(target(port))
        yield* client.writer.writeLine("before")
        assert.deepStrictEqual(yield* client.reader.readLine, Option.some("before"))

        yield* server.close()
        yield* server.close()
        yield* server.closeFinished
        assert.isTrue(yield* server.isClosed)
        assert.isTrue(yield* refused(port))

        yield* client.writer.writeLine("after")
        assert.deepStrictEqual(yield* client.reader.readLine, Option.some("after"))
        assert.strictEqual(yield* server.numConnections, 1)
        const determined = yield* Effect.timeoutOption(server.closeFinishedAndHandlersDetermined, 100)
        assert.isTrue(Option.isNone(determined), "handlers still running")

        yield* client.writer.close
        yield* server.closeFinishedAndHandlersDetermined
        assert.strictEqual(yield* server.numConnections, 0)
      }))

    it.scopedLive("no handler starts after close: held connections are closed, never served", () =>
      Effect.gen(function*() {
        let started = 0
        const gate = yield* Deferred.make<void>()
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            started++
            yield* conn.writer.writeLine("served")
            yield* Deferred.await(gate)
          }), { maxConnections: 1 })
        const first = yield* Tcp.connect(target(server.listeningOn))
        assert.deepStrictEqual(yield* first.reader.readLine, Option.some("served"))
        const held = yield* Tcp.connect(target(server.listeningOn))
        yield* eventually(server.numWaiting, (n) => n === 1, "the held client")
        yield* server.close()
        assert.strictEqual(yield* server.numWaiting, 0)
        assert.deepStrictEqual(yield* held.reader.readLine, Option.none())
        yield* Deferred.succeed(gate, undefined)
        yield* server.closeFinishedAndHandlersDetermined
        assert.strictEqual(started, 1)
      }))

    it.scopedLive("closeExistingConnections interrupts the handlers, runs their finalizers, closes the clients", () =>
      Effect.gen(function*() {
        const finalized = yield* Ref.make(0)
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Ref.update(finalized, (n) => n + 1))
            yield* conn.writer.writeLine("ready")
            return yield* Effect.never
          }))
        const clients = yield* Effect.forEach([1, 2, 3], () => Tcp.connect(target(server.listeningOn)))
        for (const client of clients) assert.deepStrictEqual(yield* client.reader.readLine, Option.some("ready"))
        assert.strictEqual(yield* server.numConnections, 3)

        yield* server.close({ closeExistingConnections: true })
        yield* server.closeFinishedAndHandlersDetermined
        assert.strictEqual(yield* Ref.get(finalized), 3)
        assert.strictEqual(yield* server.numConnections, 0)
        for (const client of clients) assert.deepStrictEqual(yield* client.reader.readLine, Option.none())
        assert.isTrue(yield* refused(server.listeningOn))
      }))

    it.live("releasing the scope is a graceful close: handlers that finish in time finish", () =>
      Effect.gen(function*() {
        const serverScope = yield* Scope.make()
        const server = yield* Scope.extend(
          Server.make(localhost, (conn) =>
            Effect.gen(function*() {
              yield* conn.reader.readLine
              yield* Effect.sleep(150)
              yield* conn.writer.writeLine("late but complete")
            }), { shutdownGracePeriod: "5 seconds" }),
          serverScope
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* Tcp.connect(target(server.listeningOn))
          yield* client.writer.writeLine("go")
          yield* eventually(server.numConnections, (n) => n === 1, "the handler")
          const start = Date.now()
          const closing = yield* Effect.fork(Scope.close(serverScope, Exit.void))
          assert.deepStrictEqual(yield* client.reader.readLine, Option.some("late but complete"))
          yield* Fiber.join(closing)
          assert.isBelow(Date.now() - start, 4000)
          assert.isTrue(yield* refused(server.listeningOn))
        }))
      }))

    it.live("releasing the scope interrupts handlers that outlive the grace period", () =>
      Effect.gen(function*() {
        const interrupted = yield* Ref.make(false)
        const serverScope = yield* Scope.make()
        const server = yield* Scope.extend(
          Server.make(localhost, (conn) =>
            conn.writer.writeLine("stuck").pipe(
              Effect.zipRight(Effect.never),
              Effect.onInterrupt(() => Ref.set(interrupted, true))
            ), { shutdownGracePeriod: "300 millis" }),
          serverScope
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* Tcp.connect(target(server.listeningOn))
          assert.deepStrictEqual(yield* client.reader.readLine, Option.some("stuck"))
          const start = Date.now()
          yield* Scope.close(serverScope, Exit.void)
          const elapsed = Date.now() - start
          assert.isAtLeast(elapsed, 250)
          assert.isBelow(elapsed, 3000)
          assert.isTrue(yield* Ref.get(interrupted))
          assert.strictEqual(yield* server.numConnections, 0)
          assert.deepStrictEqual(yield* client.reader.readLine, Option.none())
        }))
      }))

    it.live("releasing the scope closes held connections that were never served", () =>
      Effect.gen(function*() {
        const serverScope = yield* Scope.make()
        const server = yield* Scope.extend(
          Server.make(localhost, (conn) => Effect.zipRight(conn.writer.writeLine("busy"), Effect.never), {
            maxConnections: 1,
            shutdownGracePeriod: "50 millis"
          }),
          serverScope
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const served = yield* Tcp.connect(target(server.listeningOn))
          assert.deepStrictEqual(yield* served.reader.readLine, Option.some("busy"))
          const held = yield* Tcp.connect(target(server.listeningOn))
          yield* eventually(server.numWaiting, (n) => n === 1, "the held client")
          yield* Scope.close(serverScope, Exit.void)
          assert.deepStrictEqual(yield* held.reader.readLine, Option.none())
          assert.deepStrictEqual(yield* served.reader.readLine, Option.none())
          assert.strictEqual(yield* server.numWaiting, 0)
        }))
      }))

    it.live("the Layer provides the server and its release closes the port", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(Server.layer(localhost, echo), scope)
        const server = Context.get(context, Server.TcpServer)
        const port = server.listeningOn as number
        assert.deepStrictEqual(yield* ask(port, "via layer"), Option.some("via layer"))
        yield* Scope.close(scope, Exit.void)
        assert.isTrue(yield* server.isClosed)
        assert.isTrue(yield* refused(port))
      }))

    it.live("layerTest listens on 127.0.0.1", () =>
      Effect.gen(function*() {
        const port = yield* Effect.scoped(
          Effect.gen(function*() {
            const server = yield* Server.TcpServer
            assert.strictEqual((server.listeningOnAddress as Address.Inet).host, "127.0.0.1")
            const port = server.listeningOn as number
            assert.deepStrictEqual(yield* ask(port, "test layer"), Option.some("test layer"))
            return port
          }).pipe(Effect.provide(Server.layerTest(echo)))
        )
        assert.isTrue(yield* refused(port))
      }))

    it.live("serve runs until interrupted, then the port is closed", () =>
      Effect.gen(function*() {
        const listening = yield* Deferred.make<number>()
        const fiber = yield* Effect.fork(
          Server.serve(localhost, echo, { onListening: (server) => Deferred.succeed(listening, server.listeningOn) })
        )
        const port = yield* Deferred.await(listening)
        assert.deepStrictEqual(yield* ask(port, "served"), Option.some("served"))
        yield* Fiber.interrupt(fiber)
        assert.isTrue(yield* refused(port))
      }))
  })

  describe("onHandlerError", () => {
    const failing = (conn: Connection.Connection<Address.Inet>) =>
      Effect.gen(function*() {
        const line = yield* conn.reader.readLine
        if (Option.getOrElse(line, () => "") === "fail") return yield* Effect.fail("boom" as const)
        if (Option.getOrElse(line, () => "") === "die") return yield* Effect.die(new Error("kaput"))
        yield* conn.writer.writeLine("fine")
      })

    it.live("by default the cause is logged and the server goes on", () => {
      const { layer, logs } = captureLogs()
      return Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(localhost, failing)
        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("fail"))
        yield* eventually(Effect.sync(() => logs), (all) => all.some((log) => log.level === "ERROR"), "the log")
        const logged = logs.find((log) => log.level === "ERROR")!
        assert.include(Cause.pretty(logged.cause), "boom")
        assert.deepStrictEqual(yield* ask(server.listeningOn, "ok"), Option.some("fine"))
        assert.isFalse(yield* server.isClosed)
      })).pipe(Effect.provide(layer))
    })

    it.live("\"ignore\" reports nothing and the server goes on", () => {
      const { layer, logs } = captureLogs()
      return Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(localhost, failing, { onHandlerError: "ignore" })
        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("fail"))
        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("die"))
        yield* eventually(server.numConnections, (n) => n === 0, "the handlers to end")
        assert.deepStrictEqual(yield* ask(server.listeningOn, "ok"), Option.some("fine"))
        assert.deepStrictEqual(logs.filter((log) => log.level === "ERROR"), [])
      })).pipe(Effect.provide(layer))
    })

    it.scopedLive("a function gets the client's address and the cause, failures and defects", () =>
      Effect.gen(function*() {
        const calls = yield* Ref.make<Array<{ address: Address.Inet; cause: Cause.Cause<unknown> }>>([])
        const server = yield* Server.make(localhost, failing, {
          onHandlerError: (address, cause) => Ref.update(calls, (all) => [...all, { address, cause }])
        })
        const clientAddress = yield* Tcp.withConnection(
          target(server.listeningOn),
          (conn) => Effect.as(conn.writer.writeLine("fail"), conn.socket.localAddress)
        )
        yield* eventually(Ref.get(calls), (all) => all.length === 1, "the first call")
        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("die"))
        yield* eventually(Ref.get(calls), (all) => all.length === 2, "the second call")
        const [first, second] = yield* Ref.get(calls)
        assert(first !== undefined && second !== undefined)
        assert.deepStrictEqual(first.address, clientAddress)
        assert.deepStrictEqual(Cause.failures(first.cause).pipe((c) => [...c]), ["boom"])
        assert.strictEqual(Cause.isDie(second.cause), true)
        assert.include(Cause.pretty(second.cause), "kaput")
      }))

    it.scopedLive("\"raise\" shuts the server down and fails closeFinishedAndHandlersDetermined", () =>
      Effect.gen(function*() {
        const interrupted = yield* Ref.make(false)
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const line = yield* conn.reader.readLine
            if (Option.getOrElse(line, () => "") === "fail") return yield* Effect.fail("boom" as const)
            yield* conn.writer.writeLine("waiting")
            return yield* Effect.onInterrupt(Effect.never, () => Ref.set(interrupted, true))
          }), { onHandlerError: "raise" })
        const other = yield* Tcp.connect(target(server.listeningOn))
        yield* other.writer.writeLine("wait")
        assert.deepStrictEqual(yield* other.reader.readLine, Option.some("waiting"))

        yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.writer.writeLine("fail"))
        const error = yield* Effect.flip(server.closeFinishedAndHandlersDetermined)
        assert.strictEqual(error, "boom")
        assert.isTrue(yield* server.isClosed)
        assert.isTrue(yield* Ref.get(interrupted))
        assert.deepStrictEqual(yield* other.reader.readLine, Option.none())
        assert.isTrue(yield* refused(server.listeningOn))
      }))

    it.live("\"raise\" makes serve fail with the handler's error", () =>
      Effect.gen(function*() {
        const listening = yield* Deferred.make<number>()
        const fiber = yield* Effect.fork(
          Server.serve(localhost, failing, {
            onHandlerError: "raise",
            onListening: (server) => Deferred.succeed(listening, server.listeningOn)
          })
        )
        const port = yield* Deferred.await(listening)
        yield* Tcp.withConnection(target(port), (conn) => conn.writer.writeLine("fail"))
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.deepStrictEqual(Cause.failureOption(exit.cause), Option.some("boom" as const))
        assert.isTrue(yield* refused(port))
      }))

    it.scopedLive("a client leaving (reset while reading or writing) is not a handler error", () =>
      Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const endings = yield* Ref.make<Array<string>>([])
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const mode = yield* conn.reader.readLine
            yield* conn.writer.writeLine("ok")
            if (Option.getOrElse(mode, () => "") === "read") {
              for (;;) yield* conn.reader.readLine
            }
            const chunk = new Uint8Array(64 * 1024)
            for (;;) {
              yield* conn.writer.write(chunk)
              yield* conn.writer.flushed
            }
          }).pipe(
            Effect.tapError((error) =>
              Ref.update(endings, (all) => [...all, `${error._tag}:${"reason" in error ? error.reason : ""}`])
            )
          ), { onHandlerError: () => Ref.update(calls, (n) => n + 1) })
        for (const mode of ["read", "write"]) {
          yield* Effect.scoped(Effect.gen(function*() {
            const client = yield* Tcp.connect(target(server.listeningOn))
            yield* client.writer.writeLine(mode)
            yield* client.reader.readLine
            yield* client.socket.reset
          }))
          yield* eventually(server.numConnections, (n) => n === 0, `the ${mode} handler to end`)
        }
        assert.deepStrictEqual((yield* Ref.get(endings)).sort(), ["ReadError:Reset", "WriteError:ConsumerLeft"])
        assert.strictEqual(yield* Ref.get(calls), 0)
      }))

    it("a normal end is interruption, success, or a client leaving", () => {
      assert.isTrue(isNormalEnd(Cause.empty))
      assert.isTrue(isNormalEnd(Cause.interrupt(FiberId.none)))
      assert.isTrue(isNormalEnd(Cause.fail(new WriteError({ reason: "ConsumerLeft" }))))
      assert.isTrue(isNormalEnd(Cause.fail(new ReadError({ reason: "Reset" }))))
      assert.isFalse(isNormalEnd(Cause.fail(new WriteError({ reason: "BufferAgeLimitExceeded" }))))
      assert.isFalse(isNormalEnd(Cause.fail(new ReadError({ reason: "LineTooLong" }))))
      assert.isFalse(isNormalEnd(Cause.die("defect")))
      assert.isFalse(
        isNormalEnd(Cause.parallel(Cause.fail(new ReadError({ reason: "Reset" })), Cause.fail("other")))
      )
    })

    it.scopedLive("one handler's failure or defect never touches another connection", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            for (;;) {
              const line = yield* conn.reader.readLine
              if (Option.isNone(line)) return
              if (line.value === "die") return yield* Effect.die(new Error("kaput"))
              if (line.value === "fail") return yield* Effect.fail("boom" as const)
              yield* conn.writer.writeLine(line.value)
            }
          }), { onHandlerError: "ignore" })
        const survivor = yield* Tcp.connect(target(server.listeningOn))
        yield* survivor.writer.writeLine("one")
        assert.deepStrictEqual(yield* survivor.reader.readLine, Option.some("one"))
        for (const poison of ["die", "fail"]) {
          const line = yield* Tcp.withConnection(target(server.listeningOn), (conn) =>
            Effect.zipRight(conn.writer.writeLine(poison), conn.reader.readLine))
          assert.deepStrictEqual(line, Option.none())
        }
        yield* survivor.writer.writeLine("two")
        assert.deepStrictEqual(yield* survivor.reader.readLine, Option.some("two"))
        assert.strictEqual(yield* server.numConnections, 1)
      }))
  })

  describe("connections", () => {
    it.scopedLive("a handler can fork into its scope (Effect.forkScoped); the fiber is interrupted at release", () =>
      Effect.gen(function*() {
        const interrupted = yield* Deferred.make<void>()
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            yield* Effect.forkScoped(Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined)))
            yield* echo(conn)
          }))
        assert.deepStrictEqual(yield* ask(server.listeningOn, "forked"), Option.some("forked"))
        yield* Deferred.await(interrupted).pipe(Effect.timeout("5 seconds"))
      }))

    it.scopedLive("a read resumed by the socket's data can still be interrupted without losing a byte", () =>
      Effect.gen(function*() {
        // The connection fibers' reads are resumed from the socket's callback (HandOffScheduler):
        // the first read sees four of its eight bytes arrive, waits again, and times out.
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const first = yield* Effect.option(Effect.timeout(conn.reader.readExactly(8), "300 millis"))
            yield* conn.writer.writeLine(Option.isNone(first) ? "timed out" : "read")
            const all = yield* conn.reader.readExactly(8)
            yield* conn.writer.writeLine(Buffer.from(all).toString())
          }))
        const lines = yield* Tcp.withConnection(target(server.listeningOn), (conn) =>
          Effect.gen(function*() {
            yield* conn.writer.write("abcd")
            const first = yield* conn.reader.readLine
            yield* conn.writer.write("efgh")
            return [first, yield* conn.reader.readLine]
          }))
        assert.deepStrictEqual(lines, [Option.some("timed out"), Option.some("abcdefgh")])
      }))

    it.scopedLive("a handler that runs its reads on a scheduler of its own is served alike", () =>
      Effect.gen(function*() {
        const server = yield* Server.make(
          localhost,
          (conn) => Effect.withScheduler(echo(conn), Scheduler.timer(1))
        )
        assert.deepStrictEqual(yield* ask(server.listeningOn, "own scheduler"), Option.some("own scheduler"))
      }))

    it.scopedLive("each handler runs under its own scope, released before numConnections drops", () =>
      Effect.gen(function*() {
        const order = yield* Ref.make<Array<string>>([])
        const counted = yield* Deferred.make<Effect.Effect<number>>()
        const server = yield* Server.make(localhost, (conn) =>
          Effect.gen(function*() {
            const numConnections = yield* Deferred.await(counted)
            yield* Effect.addFinalizer(() =>
              Effect.flatMap(numConnections, (n) => Ref.update(order, (all) => [...all, `handler scope (${n} open)`]))
            )
            yield* conn.writer.writeLine("bye")
          }))
        yield* Deferred.succeed(counted, server.numConnections)
        const line = yield* ask(server.listeningOn, "x")
        assert.deepStrictEqual(line, Option.some("bye"))
        yield* eventually(server.numConnections, (n) => n === 0, "the connection to close")
        assert.deepStrictEqual(yield* Ref.get(order), ["handler scope (1 open)"])
      }))

    it.scopedLive("the written bytes are flushed before the connection closes", () =>
      Effect.gen(function*() {
        const big = "x".repeat(1024 * 1024)
        const server = yield* Server.make(localhost, (conn) => conn.writer.write(big))
        const received = yield* Tcp.withConnection(target(server.listeningOn), (conn) => conn.reader.readAll)
        assert.strictEqual(received.length, big.length)
      }))

    it.scopedLive("handlers run in spans named effect-tcp.server.connection; listening in effect-tcp.server.listen", () =>
      Effect.gen(function*() {
        const names: Array<string> = []
        const base = yield* Effect.tracer
        const tracer = Tracer.make({
          span: (...args) => {
            names.push(args[0])
            return base.span(...args)
          },
          context: (f, fiber) => base.context(f, fiber)
        })
        const seen = yield* Deferred.make<{ name: string; peer: unknown; local: unknown }>()
        const server = yield* Server.make(localhost, () =>
          Effect.gen(function*() {
            const span = yield* Effect.currentSpan
            yield* Deferred.succeed(seen, {
              name: span.name,
              peer: span.attributes.get("effect-tcp.remote"),
              local: span.attributes.get("effect-tcp.local")
            })
          }).pipe(Effect.orDie)).pipe(Effect.withTracer(tracer))
        const client = yield* Effect.scoped(
          Effect.map(Tcp.connect(target(server.listeningOn)), (conn) => conn.socket.localAddress)
        )
        const span = yield* Deferred.await(seen)
        assert.strictEqual(span.name, "effect-tcp.server.connection")
        assert.strictEqual(span.peer, Address.format(client))
        assert.strictEqual(span.local, `127.0.0.1:${server.listeningOn}`)
        assert.include(names, "effect-tcp.server.listen")
        assert.include(names, "effect-tcp.server.connection")
      }))
  })
})
