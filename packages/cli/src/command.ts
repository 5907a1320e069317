/**
 * The root `etcp` command and its subcommands.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Bench from "./bench.js"
import * as Connect from "./connect.js"
import * as Listen from "./listen.js"
import * as Transfer from "./transfer.js"

const description = `A netcat for Effect users: TCP and Unix-domain sockets with effect-tcp.

Commands:
  connect   standard input to a socket, the socket to standard output
  listen    a server: one client (netcat style), --keep-open, --echo
  send      send a file, with a progress bar
  receive   receive a file, with a progress bar
  bench     the effect-tcp benchmarks

Run "etcp COMMAND --help" for a command's options and examples.

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 3 connection refused, 4 connection timed out, 5 host not found, 6 network unreachable, 7 other connect failure, 8 cannot listen, 130 interrupted.

Examples:
  etcp listen --port 9000 &  echo hello | etcp connect localhost 9000
  etcp listen --echo --keep-open --port 7
  etcp receive --port 9000 > copy.bin  &  etcp send file.bin localhost 9000`

/**
 * `etcp` with its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("etcp").pipe(
  Command.withDescription(description),
  Command.withSubcommands([
    Connect.command,
    Listen.command,
    Transfer.sendCommand,
    Transfer.receiveCommand,
    Bench.command
  ])
)
