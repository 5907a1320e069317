/**
 * `etcp listen`: a server on a port or a Unix socket, netcat style (one client, then exit),
 * or kept open (`--keep-open`), or an echo server (`--echo`).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Address, type Connection, Server, type TcpError, type Tls, type WhereToListen } from "effect-tcp"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { download, echo, upload } from "./exchange.js"
import { describe, usage } from "./exit.js"
import { fromReadable, fromWritable, type Input, type InputError, type Output, type OutputError } from "./stdio.js"
import { unixOption, verboseOption, whereToListen } from "./target.js"
import { serverTls, tlsOptions } from "./tls.js"

/**
 * `--port N` (alias `-p`).
 *
 * @since 0.1.0
 * @category options
 */
export const portOption = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withPseudoName("N"),
  Options.withDescription("TCP port to listen on (default: one the OS chooses, printed on standard error)."),
  Options.optional
)

/**
 * `--host ADDR`.
 *
 * @since 0.1.0
 * @category options
 */
export const hostOption = Options.text("host").pipe(
  Options.withAlias("s"),
  Options.withPseudoName("ADDR"),
  Options.withDescription("IP address to listen on, or localhost (default: every address, IPv4 and IPv6)."),
  Options.optional
)

const keepOpenOption = Options.boolean("keep-open").pipe(
  Options.withAlias("k"),
  Options.withDescription("Keep listening after a client leaves (default: serve one client, then exit).")
)

const maxConnectionsOption = Options.integer("max-connections").pipe(
  Options.withAlias("m"),
  Options.withPseudoName("N"),
  Options.withDescription(
    "Serve at most N clients at once (default 1); later ones wait, connected, until a slot frees."
  ),
  Options.optional
)

const echoOption = Options.boolean("echo").pipe(
  Options.withAlias("e"),
  Options.withDescription("Echo server: send every client back what it sends (standard input is not read).")
)

const description =
  `Listen on a TCP port (or a Unix socket) and copy the client's bytes to standard output and standard input to the client.

By default etcp serves one client and exits when that client closes the connection, as netcat does. With --keep-open it serves clients until interrupted (Ctrl-C); with --max-connections N, up to N at once (standard input goes to one client at a time, the one connected longest). The port is printed on standard error ("etcp: listening on port N").

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 8 cannot listen (address in use, permission denied), 130 interrupted.

Examples:
  etcp listen --port 9000 > received.txt
  etcp listen --echo --keep-open --max-connections 100 --host 127.0.0.1
  etcp listen --unix /tmp/app.sock --keep-open
  etcp listen --tls --cert server.crt --key server.key --port 9443 --echo --keep-open
  etcp listen                  # the OS chooses the port`

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
 * The `listen` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "listen",
  {
    port: portOption,
    host: hostOption,
    unix: unixOption,
    keepOpen: keepOpenOption,
    maxConnections: maxConnectionsOption,
    echo: echoOption,
    verbose: verboseOption,
    ...tlsOptions
  },
  (config) =>
    Effect.gen(function*() {
      const where = yield* whereToListen(config)
      const maxConnections = Option.getOrElse(config.maxConnections, () => 1)
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
).pipe(Command.withDescription(description))
