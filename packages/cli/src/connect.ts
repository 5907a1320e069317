/**
 * `etcp connect`: standard input to the socket, the socket to standard output.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Address, Tcp } from "effect-tcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { exchange } from "./exchange.js"
import { fromReadable, fromWritable } from "./stdio.js"
import { timeoutMillis, unixOption, verboseOption, whereToConnect } from "./target.js"
import { clientTls, tlsOptions } from "./tls.js"

/**
 * `HOST PORT`, optional so that `--unix PATH` can stand in for them.
 *
 * @since 0.1.0
 * @category arguments
 */
export const hostPortArgs = Args.all([
  Args.text({ name: "host" }).pipe(Args.withDescription("Host name or IP address (IPv4 or IPv6).")),
  Args.text({ name: "port" }).pipe(Args.withDescription("TCP port, 1-65535."))
]).pipe(Args.optional)

/**
 * `--timeout SECONDS`.
 *
 * @since 0.1.0
 * @category options
 */
export const timeoutOption = Options.float("timeout").pipe(
  Options.withAlias("w"),
  Options.withPseudoName("SECONDS"),
  Options.withDescription("Give up when the connection is not established within SECONDS (default 10)."),
  Options.optional
)

const localPortOption = Options.integer("local-port").pipe(
  Options.withAlias("p"),
  Options.withPseudoName("PORT"),
  Options.withDescription("Bind the local end to PORT before connecting."),
  Options.optional
)

const localAddressOption = Options.text("local-address").pipe(
  Options.withAlias("s"),
  Options.withPseudoName("ADDR"),
  Options.withDescription("Bind the local end to the IP address ADDR before connecting."),
  Options.optional
)

const description =
  `Connect to HOST PORT (or a Unix socket) and copy standard input to the socket and the socket to standard output.

When standard input ends, the sending side is half-closed (the peer sees end of stream and can still answer); etcp keeps printing what arrives until the peer closes the connection.

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 3 connection refused, 4 connection timed out, 5 host not found, 6 network unreachable, 7 other connect failure, 130 interrupted.

Examples:
  etcp connect localhost 8080
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | etcp connect example.com 80
  etcp connect --timeout 2 --local-port 40000 10.0.0.5 22
  etcp connect --unix /run/app.sock < request.json
  etcp connect --tls --cafile ca.crt localhost 6380`

/**
 * The `connect` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "connect",
  {
    target: hostPortArgs,
    unix: unixOption,
    timeout: timeoutOption,
    localPort: localPortOption,
    localAddress: localAddressOption,
    verbose: verboseOption,
    ...tlsOptions
  },
  (config) =>
    Effect.gen(function*() {
      const where = yield* whereToConnect({
        positional: Option.getOrElse(config.target, () => [] as ReadonlyArray<string>),
        unix: config.unix,
        localPort: config.localPort,
        localAddress: config.localAddress
      })
      const timeout = yield* timeoutMillis(config.timeout)
      const tls = yield* clientTls(config)
      yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* Tcp.connect(where, {
          ...(timeout === undefined ? {} : { timeout }),
          ...(tls === undefined ? {} : { tls })
        })
        if (config.verbose) {
          yield* Effect.sync(() =>
            process.stderr.write(
              `etcp: connected to ${Address.format(connection.socket.remoteAddress)} from ${
                Address.format(connection.socket.localAddress)
              }\n`
            )
          )
        }
        yield* exchange(
          connection,
          fromReadable(process.stdin, "standard input"),
          fromWritable(process.stdout, "standard output")
        )
      }))
    })
).pipe(Command.withDescription(description))
