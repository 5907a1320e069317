/**
 * `etcp connect`: standard input to the socket, the socket to standard output.
 *
 * @since 0.1.0
 */
import * as Address from "effect-tcp/Address"
import * as Tcp from "effect-tcp/Tcp"
import * as Effect from "effect/Effect"
import type * as Args from "./args.js"
import type * as Commands from "./commands.js"
import { exchange } from "./exchange.js"
import { fromReadable, fromWritable } from "./stdio.js"
import { timeoutMillis, whereToConnect } from "./target.js"
import { clientTls } from "./tls.js"

/**
 * Runs `etcp connect`.
 *
 * @since 0.2.0
 * @category commands
 */
export const run = ({ args, options: config }: Args.Parsed<typeof Commands.connect.options>) =>
  Effect.gen(function*() {
    const where = yield* whereToConnect({
      positional: args,
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
