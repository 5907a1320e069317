/**
 * An effect-tcp `Server` provided as an `@effect/platform` `SocketServer`, with the semantics
 * of `@effect/platform-node`'s `NodeSocketServer`: the server listens when made; `run(handler)`
 * serves every connection with `handler` until it is interrupted; connections that arrive while
 * no `run` is active wait for the next one.
 *
 * @internal
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Address } from "../Address.js"
import type { Connection } from "../Connection.js"
import type * as PlatformSocketServer from "../PlatformSocketServer.js"
import type * as Server from "../Server.js"
import type { InvalidArgument, ListenError } from "../TcpError.js"
import type * as WhereToListen from "../WhereToListen.js"
import { fromConnection } from "./platformSocket.js"
import * as internalServer from "./server.js"
import { checkShutdownGracePeriod } from "./serverConfig.js"
import { validate } from "./validate.js"

/** `PlatformSocketServer.IncomingConnection`. */
export const IncomingConnection = Context.GenericTag<PlatformSocketServer.IncomingConnection, Connection<Address>>(
  "effect-tcp/PlatformSocketServer/IncomingConnection"
)

/** A `run` in progress: serves one connection until the run ends. */
interface Run {
  readonly serve: (connection: Connection<Address>) => Effect.Effect<void, unknown>
}

/** A socket that closed (cleanly or not) ends a connection normally, as an interruption does. */
const isNormalEnd = (cause: Cause.Cause<unknown>): boolean =>
  Chunk.isEmpty(Cause.defects(cause)) &&
  Chunk.every(Cause.failures(cause), (error) => Socket.SocketCloseError.is(error))

const toSocketServerAddress = (address: Address): SocketServer.Address =>
  address._tag === "Unix"
    ? { _tag: "UnixAddress", path: address.path }
    : { _tag: "TcpAddress", hostname: address.host, port: address.port }

/** @internal */
export const make = <W extends WhereToListen.WhereToListen>(
  where: W,
  options?: Server.ServerOptions<Server.AddressOf<W>, unknown>
): Effect.Effect<PlatformSocketServer.PlatformSocketServer<W>, ListenError | InvalidArgument, Scope.Scope> =>
  Effect.gen(function*() {
    const runs: Array<Run> = []
    const latch = yield* Effect.makeLatch(false)
    const started = yield* Deferred.make<Server.Server<Server.AddressOf<W>, Server.ListeningOn<W>, unknown>>()
    const reportErrors = options?.onHandlerError !== undefined
    const grace = yield* validate(() => checkShutdownGracePeriod(options?.shutdownGracePeriod))

    /** The latest run, once there is one; `none` when the server closed first. */
    const currentRun: Effect.Effect<Option.Option<Run>> = Effect.suspend(() =>
      runs.length > 0 ? Effect.succeedSome(runs[runs.length - 1]!) : Effect.raceFirst(
        Effect.zipRight(latch.await, currentRun),
        Effect.as(Effect.flatMap(Deferred.await(started), (server) => server.closeFinished), Option.none())
      )
    )

    const server = yield* internalServer.make<Server.AddressOf<W>, Server.ListeningOn<W>, unknown, never>(
      where,
      (connection) =>
        Effect.flatMap(currentRun, (run) => Option.isSome(run) ? run.value.serve(connection) : Effect.void),
      options
    )
    yield* Deferred.succeed(started, server)

    const run = <R, E, _>(
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<never, SocketServer.SocketServerError, R> =>
      Effect.gen(function*() {
        const context = yield* Effect.context<R>()
        const logLevel = yield* FiberRef.get(FiberRef.unhandledErrorLogLevel)
        const ended = yield* Deferred.make<void>()
        const idle = yield* Effect.makeLatch(true)
        let active = 0
        const report = (cause: Cause.Cause<unknown>): Effect.Effect<void, unknown> => {
          if (isNormalEnd(cause)) return Effect.void
          if (reportErrors) return Effect.failCause(cause)
          return Option.match(logLevel, {
            onNone: () => Effect.void,
            onSome: (level) => Effect.logWithLevel(level, cause, "Unhandled error in SocketServer")
          })
        }
        // Once the run has ended, its handlers get the grace period to finish, then are interrupted.
        const deadline = Deferred.await(ended).pipe(
          Effect.zipRight(Effect.sleep(grace)),
          Effect.zipRight(Effect.interrupt)
        )
        const entry: Run = {
          serve: (connection) =>
            Effect.acquireUseRelease(
              Effect.sync(() => {
                active++
                idle.unsafeClose()
              }),
              () =>
                handler(fromConnection(connection)).pipe(
                  Effect.provide(context),
                  Effect.provideService(IncomingConnection, connection),
                  Effect.catchAllCause(report),
                  Effect.raceFirst(deadline)
                ),
              () =>
                Effect.sync(() => {
                  if (--active === 0) idle.unsafeOpen()
                })
            )
        }
        return yield* Effect.acquireUseRelease(
          Effect.sync(() => {
            runs.push(entry)
            latch.unsafeOpen()
          }),
          () =>
            Effect.zipRight(
              server.closeFinished,
              Effect.fail(new SocketServer.SocketServerError({ reason: "Unknown", cause: "the server was closed" }))
            ),
          () =>
            Effect.sync(() => {
              runs.splice(runs.indexOf(entry), 1)
              if (runs.length === 0) latch.unsafeClose()
            }).pipe(
              Effect.zipRight(Deferred.succeed(ended, undefined)),
              Effect.zipRight(idle.await)
            )
        )
      })

    return {
      address: toSocketServerAddress(server.listeningOnAddress),
      run,
      server
    }
  })
