/**
 * `etcp listen`: a server on a port or a Unix socket, netcat style (one client, then exit),
 * or kept open (`--keep-open`), or an echo server (`--echo`).
 *
 * @since 0.1.0
 */
import * as Address from "effect-tcp/Address"
import type * as Connection from "effect-tcp/Connection"
import * as Server from "effect-tcp/Server"
import type * as TcpError from "effect-tcp/TcpError"
import type * as Tls from "effect-tcp/Tls"
import type * as WhereToListen from "effect-tcp/WhereToListen"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type * as Args from "./args.js"
import type * as Commands from "./commands.js"
import { download, echo, upload } from "./exchange.js"
import { describe, usage } from "./exit.js"
import { fromReadable, fromWritable, type Input, type InputError, type Output, type OutputError } from "./stdio.js"
import { whereToListen } from "./target.js"
import { serverTls } from "./tls.js"

type ExchangeError = InputError | OutputError | TcpError.ReadError | TcpError.WriteError | TcpError.InvalidArgument

/** One client: the socket to standard output while standard input (when this client holds it) goes to the socket. */
const netcat = <A extends Address.Address>(
  connection: Connection.Connection<A>,
  stdio: { readonly stdin: Input; readonly stdinLock: Effect.Semaphore; readonly stdout: Output }
): Effect.Effect<void, ExchangeError> => {
  const up = stdio.stdinLock.withPermits(1)(upload(connection, stdio.stdin)).pipe(
    Effect.catchIf((e) => e._tag === "WriteError", () => Effect.void),
    Effect.zipRight(Effect.never)
  )
  return Effect.raceFirst(download(connection, stdio.stdout), up)
}

const log = (line: string) => Effect.sync(() => process.stderr.write(`etcp: ${line}\n`))

/**
 * Prints where a server listens: `listening on port N` (TCP) or `listening on PATH` (Unix).
 *
 * @since 0.1.0
 * @category formatting
 */
export const listeningLine = (server: { readonly listeningOn: number | string }): string =>
  typeof server.listeningOn === "number"
    ? `listening on port ${server.listeningOn}`
    : `listening on ${server.listeningOn}`

/**
 * Runs a server for `handler` until the first connection ends (`keepOpen` false: the listener
 * closes when that client arrives, as netcat's does) or forever.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E>(options: {
  readonly where: WhereToListen.WhereToListen
  readonly handler: (connection: Connection.Connection<Address.Address>) => Effect.Effect<void, E>
  readonly keepOpen: boolean
  readonly maxConnections: number
  readonly verbose: boolean
  readonly onListening?: (server: { readonly listeningOn: number | string }) => Effect.Effect<void>
  readonly tls?: Tls.ServerOptions | undefined
}): Effect.Effect<void, E | TcpError.ListenError | TcpError.InvalidArgument, Scope.Scope> =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<void, E>()
    const stopAccepting = yield* Deferred.make<Effect.Effect<void>>()
    const handler = (connection: Connection.Connection<Address.Address>) => {
      const peer = Address.format(connection.socket.remoteAddress) || "a Unix client"
      return Effect.gen(function*() {
        if (!options.keepOpen) yield* Effect.flatten(Deferred.await(stopAccepting))
        if (options.verbose) yield* log(`connection from ${peer}`)
        const exit = yield* Effect.exit(options.handler(connection))
        if (options.verbose) yield* log(`connection from ${peer} closed`)
        if (!options.keepOpen) yield* Deferred.done(first, exit)
        else if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          yield* log(`connection from ${peer}: ${describe(Cause.squash(exit.cause))}`)
        }
      })
    }
    const server = yield* Server.make(options.where, handler, {
      maxConnections: options.maxConnections,
      onHandlerError: "ignore",
      ...(options.tls === undefined ? {} : { tls: options.tls })
    })
    yield* Deferred.succeed(stopAccepting, server.close())
    yield* log(listeningLine(server))
    if (options.onListening) yield* options.onListening(server)
    if (options.keepOpen) return yield* Effect.never
    yield* Deferred.await(first)
  })

/**
 * Runs `etcp listen`.
 *
 * @since 0.2.0
 * @category commands
 */
export const run = ({ options: config }: Args.Parsed<typeof Commands.listen.options>) =>
  Effect.gen(function*() {
    const where = yield* whereToListen(config)
    const maxConnections = config.maxConnections ?? 1
    if (maxConnections < 1) return yield* Effect.fail(usage("--max-connections must be at least 1"))
    const tls = yield* serverTls(config)
    const stdio = {
      stdin: fromReadable(process.stdin, "standard input"),
      stdinLock: yield* Effect.makeSemaphore(1),
      stdout: fromWritable(process.stdout, "standard output")
    }
    yield* Effect.scoped(serve<ExchangeError>({
      where,
      keepOpen: config.keepOpen,
      maxConnections,
      verbose: config.verbose,
      tls,
      handler: (connection) => config.echo ? echo(connection) : netcat(connection, stdio)
    }))
  })
