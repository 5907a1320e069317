/**
 * A `Connection` seen as an `@effect/platform` `Socket.Socket`, with the semantics of
 * `@effect/platform-node`'s `NodeSocket`: `run` delivers every received chunk to the handler
 * and forks the effects it returns into a `FiberSet`, ends with `void` at the peer's FIN and
 * with `SocketCloseError` when the socket closes or a `CloseEvent` is written; `writer` is a
 * scoped write function whose release half-closes the connection.
 *
 * @internal
 */
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type { Address } from "../Address.js"
import type { Connection } from "../Connection.js"
import * as Reader from "../Reader.js"
import * as Resolver from "../Resolver.js"
import type * as Tcp from "../Tcp.js"
import { type ConnectError, InvalidArgument, type ReadError, type WriteError } from "../TcpError.js"
import type { WhereToConnect } from "../WhereToConnect.js"
import * as Writer from "../Writer.js"
import * as internalTcp from "./tcp.js"
import { show } from "./validate.js"

/** Options of `Socket.run` / `runRaw`. */
interface RunOptions {
  readonly onOpen?: Effect.Effect<void> | undefined
}

/** A `run` in progress: a written `CloseEvent` ends it. */
interface Session {
  readonly close: (event: Socket.CloseEvent) => void
}

/** The runs in progress on one connection. */
type Sessions = Set<Session>

/** How a read failure ends `run`: a locally closed reader is a close, anything else a read error. */
const readFailure = (error: ReadError | InvalidArgument): Socket.SocketError =>
  error._tag === "ReadError" && error.reason === "Closed"
    ? new Socket.SocketCloseError({ reason: "Close", code: 1000 })
    : new Socket.SocketGenericError({ reason: "Read", cause: error })

const writeFailure = (error: WriteError | InvalidArgument): Socket.SocketError =>
  new Socket.SocketGenericError({ reason: "Write", cause: error })

/** A JavaScript caller's wrong argument, as the `SocketError` that `Socket.Socket` speaks. */
const invalid = (reason: "Open" | "Read", argument: string, message: string): Socket.SocketError =>
  new Socket.SocketGenericError({
    reason,
    cause: new InvalidArgument({ argument, message: `${argument}: ${message}` })
  })

/** The problem with `run`'s arguments, if any. */
const checkRun = (handler: unknown, options: unknown): Socket.SocketError | undefined => {
  if (typeof handler !== "function") return invalid("Read", "handler", `expected a function, got ${show(handler)}`)
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null) {
    return invalid("Read", "options", `expected an options object, got ${show(options)}`)
  }
  const onOpen: unknown = (options as RunOptions).onOpen
  return onOpen === undefined || Effect.isEffect(onOpen)
    ? undefined
    : invalid("Read", "options.onOpen", `expected an Effect, got ${show(onOpen)}`)
}

/**
 * Reads `connection` until the end of stream, calling `handler` with each chunk (a copy: the
 * handler may keep it) inside the reader's own read, so a chunk is consumed exactly when it is
 * handed over. Effects returned by the handler are forked, in order, into the run's `FiberSet`
 * (started on the next microtask, so that they never run inside the reader's read).
 */
const runOn = <_, E, R>(
  connection: Connection<Address>,
  sessions: Sessions,
  handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
  options: RunOptions | undefined
): Effect.Effect<void, Socket.SocketError | E, R> => {
  const wrong = checkRun(handler, options)
  if (wrong !== undefined) return Effect.fail(wrong)
  return Effect.scopedWith((scope) =>
    Effect.gen(function*() {
      const fiberSet = yield* Scope.extend(FiberSet.make<unknown, E | Socket.SocketError>(), scope)
      const runFork = yield* FiberSet.runtime(fiberSet)<R>()
      const session: Session = {
        close: (event) =>
          Deferred.unsafeDone(
            fiberSet.deferred,
            Exit.fail(new Socket.SocketCloseError({ reason: "Close", code: event.code, closeReason: event.reason }))
          )
      }
      sessions.add(session)
      yield* Scope.addFinalizer(scope, Effect.sync(() => sessions.delete(session)))

      const forkOptions = { immediate: false } as const
      const onChunk = (view: Uint8Array): Reader.ChunkResult<never> => {
        const result = handler(Buffer.from(view))
        if (Effect.isEffect(result)) runFork(result, forkOptions)
        return Reader.Continue
      }
      yield* FiberSet.run(
        fiberSet,
        Effect.matchEffect(connection.reader.readChunks(onChunk), {
          onFailure: (error) => Effect.fail(readFailure(error)),
          onSuccess: () => Effect.sync(() => Deferred.unsafeDone(fiberSet.deferred, Exit.void))
        })
      )
      if (options?.onOpen !== undefined) yield* options.onOpen
      return yield* FiberSet.join(fiberSet)
    })
  ).pipe(Effect.interruptible)
}

/** The write function of a connection: bytes, strings, or a `CloseEvent` that ends it. */
const writeTo = (connection: Connection<Address>, sessions: Sessions) =>
(
  chunk: Uint8Array | string | Socket.CloseEvent
): Effect.Effect<void, Socket.SocketError> => {
  if (Socket.isCloseEvent(chunk)) {
    return Effect.zipRight(
      Effect.sync(() => {
        for (const session of sessions) session.close(chunk)
      }),
      connection.writer.close
    )
  }
  return Effect.mapError(connection.writer.write(chunk), writeFailure)
}

/** @internal */
export const fromConnection = <A extends Address>(connection: Connection<A>): Socket.Socket => {
  if (!isConnection(connection)) {
    const failure = Effect.fail(invalid("Open", "connection", `expected a Connection, got ${show(connection)}`))
    return Socket.Socket.of({
      [Socket.TypeId]: Socket.TypeId,
      run: () => failure,
      runRaw: () => failure,
      writer: Effect.succeed(() => failure)
    })
  }
  const sessions: Sessions = new Set()
  const run = <_, E = never, R = never>(
    handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: RunOptions
  ) => runOn(connection, sessions, handler, options)
  const write = writeTo(connection, sessions)
  return Socket.Socket.of({
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run,
    writer: Effect.acquireRelease(Effect.succeed(write), () => connection.writer.close)
  })
}

const isConnection = (value: unknown): value is Connection<Address> =>
  typeof value === "object" && value !== null && Reader.isReader((value as Connection<Address>).reader) &&
  Writer.isWriter((value as Connection<Address>).writer)

/** How a re-dialing socket fails once the scope it was made in is released: as a closed socket. */
const closed = (): Socket.SocketError =>
  new Socket.SocketCloseError({ reason: "Close", code: 1000, closeReason: "the socket's scope was released" })

/** A connection that a re-dialing socket holds, with the scope that owns it. */
interface Live {
  readonly connection: Connection<Address>
  readonly scope: Scope.CloseableScope
  readonly sessions: Sessions
  /** Set when the scope of `socket.writer` was released: writes then fail instead of waiting. */
  writerReleased: boolean
}

/** @internal */
export const make = <A extends Address>(
  where: WhereToConnect<A>,
  options?: Tcp.ConnectOptions
): Effect.Effect<Socket.Socket, ConnectError | InvalidArgument, Scope.Scope> => makeWith(where, options, false)

/** @internal As `make`, but the first connection too is dialed by the first `run`. */
export const makeLazy = <A extends Address>(
  where: WhereToConnect<A>,
  options?: Tcp.ConnectOptions
): Effect.Effect<Socket.Socket, InvalidArgument, Scope.Scope> =>
  Effect.zipRight(internalTcp.checkConnect(where, options), makeWith(where, options, true)) as Effect.Effect<
    Socket.Socket,
    InvalidArgument,
    Scope.Scope
  >

const makeWith = <A extends Address>(
  where: WhereToConnect<A>,
  options: Tcp.ConnectOptions | undefined,
  lazy: boolean
): Effect.Effect<Socket.Socket, ConnectError | InvalidArgument, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    // Every later dial uses the resolver of the context the socket was made in.
    const resolver = yield* Resolver.Resolver
    const latch = yield* Effect.makeLatch(false)
    let current: Live | undefined = undefined

    const connect = Effect.provideService(internalTcp.connect(where, options), Resolver.Resolver, resolver)
    /** Set when `parent` is released: runs and writes then fail instead of dialing or waiting. */
    let released = false
    yield* Scope.addFinalizer(
      parent,
      Effect.sync(() => {
        released = true
        current = undefined
        latch.unsafeOpen()
      })
    )

    /** Dials, and makes the new connection the current one; fails with `closed` once `parent` is released. */
    const open: Effect.Effect<Live, ConnectError | InvalidArgument | Socket.SocketError> = Effect.uninterruptibleMask((
      restore
    ) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        // `gone` fails when the scope closes: at once if it was forked from a released `parent`
        // (a finalizer added to a closed scope runs at once; without this check, the dial would
        // open a socket nothing closes), or later, after the scope has closed the socket of a dial
        // in progress (which then ends here rather than waiting for a handshake that never ends).
        let isGone = false
        const gone = yield* Deferred.make<never, Socket.SocketError>()
        yield* Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            isGone = true
            Deferred.unsafeDone(gone, Exit.fail(closed()))
          })
        )
        if (isGone || released) return yield* Effect.fail(closed())
        const exit = yield* Effect.exit(restore(Effect.raceFirst(Scope.extend(connect, scope), Deferred.await(gone))))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, exit)
          return yield* Effect.failCause(exit.cause)
        }
        // Released while dialing: the scope closed the socket already.
        if (isGone || released) return yield* Effect.fail(closed())
        const live: Live = { connection: exit.value, scope, sessions: new Set(), writerReleased: false }
        current = live
        yield* latch.open
        return live
      })
    )

    /** Releases a connection (writer, reader, socket); later runs dial a new one. */
    const release = (live: Live): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (current === live) {
          current = undefined
          if (!released) latch.unsafeClose()
        }
        return Scope.close(live.scope, Exit.void)
      })

    // `parent` is open here: `closed` cannot happen.
    if (!lazy) yield* Effect.catchIf(open, Socket.isSocketError, Effect.die)

    const run = <_, E = never, R = never>(
      handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
      runOptions?: RunOptions
    ): Effect.Effect<void, Socket.SocketError | E, R> => {
      // Checked before a connection is taken: a wrong argument releases none.
      const wrong = checkRun(handler, runOptions)
      if (wrong !== undefined) return Effect.fail(wrong)
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          Effect.suspend(() =>
            current !== undefined
              ? Effect.succeed(current)
              : Effect.mapError(
                restore(open),
                (cause) =>
                  Socket.isSocketError(cause) ? cause : new Socket.SocketGenericError({ reason: "Open", cause })
              )
          ),
          (live) =>
            restore(runOn(live.connection, live.sessions, handler, runOptions)).pipe(
              Effect.ensuring(release(live))
            )
        )
      )
    }

    /** A connection found dead by a write: later writes wait for the next one. */
    const retire = (live: Live): void => {
      if (current === live) {
        current = undefined
        if (!released) latch.unsafeClose()
      }
    }

    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      latch.whenOpen(Effect.suspend(() => {
        if (released) return Effect.fail(closed())
        const live = current
        if (live === undefined) return write(chunk)
        if (Socket.isCloseEvent(chunk)) return writeTo(live.connection, live.sessions)(chunk)
        // A write that fails queued none of its bytes: when the connection died under it (and not
        // because the writer was released), it goes to the next connection, as NodeSocket's
        // writes wait for the next run's connection.
        return Effect.catchAll(live.connection.writer.write(chunk), (error) => {
          // A chunk that is not one is the caller's mistake, not a dead connection.
          if (live.writerReleased || error._tag === "InvalidArgument") return Effect.fail(writeFailure(error))
          retire(live)
          return write(chunk)
        })
      }))

    return Socket.Socket.of({
      [Socket.TypeId]: Socket.TypeId,
      run,
      runRaw: run,
      writer: Effect.acquireRelease(
        Effect.succeed(write),
        () =>
          Effect.suspend(() => {
            const live = current
            if (live === undefined) return Effect.void
            live.writerReleased = true
            return live.connection.writer.close
          })
      )
    })
  })
