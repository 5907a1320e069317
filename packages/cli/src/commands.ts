/**
 * The `etcp` commands as the command line sees them: their options, arguments and help. Nothing
 * here loads effect; a command's implementation is loaded only when it runs (`run.ts`).
 *
 * @since 0.1.0
 */
import * as Args from "./args.js"

const unix = Args.text("PATH", "Use the Unix-domain stream socket at PATH instead of TCP.", "U")
const verbose = Args.boolean("Report connections on standard error.", "v")
const timeout = Args.number(
  "SECONDS",
  "Give up when the connection is not established within SECONDS (default 10).",
  "w"
)
const port = Args.integer(
  "N",
  "TCP port to listen on (default: one the OS chooses, printed on standard error).",
  "p"
)
const host = Args.text(
  "ADDR",
  "IP address to listen on, or localhost (default: every address, IPv4 and IPv6).",
  "s"
)
const tls = {
  tls: Args.boolean("Speak TLS (connect: verify the server; listen: needs --cert and --key)."),
  cafile: Args.text(
    "FILE",
    "Trusted CA certificates (PEM). connect: instead of the system's; listen: ask clients for a certificate signed by them (mutual TLS)."
  ),
  cert: Args.text(
    "FILE",
    "Certificate chain (PEM): the server's (listen) or the client's (connect, mutual TLS)."
  ),
  key: Args.text("FILE", "Private key of --cert (PEM)."),
  insecure: Args.boolean("connect: do not verify the server's certificate (tests only).")
}
const hostPort = [
  ["HOST", "Host name or IP address (IPv4 or IPv6)."],
  ["PORT", "TCP port, 1-65535."]
] as const

/**
 * `etcp connect`.
 *
 * @since 0.2.0
 * @category commands
 */
export const connect = {
  name: "connect" as const,
  summary: "standard input to a socket, the socket to standard output",
  synopsis: "[HOST PORT]",
  arguments: hostPort,
  maxArgs: 2,
  options: {
    unix,
    timeout,
    localPort: Args.integer("PORT", "Bind the local end to PORT before connecting.", "p"),
    localAddress: Args.text("ADDR", "Bind the local end to the IP address ADDR before connecting.", "s"),
    verbose,
    ...tls
  },
  description:
    `Connect to HOST PORT (or a Unix socket) and copy standard input to the socket and the socket to standard output.

When standard input ends, the sending side is half-closed (the peer sees end of stream and can still answer); etcp keeps printing what arrives until the peer closes the connection.

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 3 connection refused, 4 connection timed out, 5 host not found, 6 network unreachable, 7 other connect failure, 130 interrupted.

Examples:
  etcp connect localhost 8080
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | etcp connect example.com 80
  etcp connect --timeout 2 --local-port 40000 10.0.0.5 22
  etcp connect --unix /run/app.sock < request.json
  etcp connect --tls --cafile ca.crt localhost 6380`
} satisfies Args.Spec

/**
 * `etcp listen`.
 *
 * @since 0.2.0
 * @category commands
 */
export const listen = {
  name: "listen" as const,
  summary: "a server: one client (netcat style), --keep-open, --echo",
  synopsis: "",
  arguments: [],
  maxArgs: 0,
  options: {
    port,
    host,
    unix,
    keepOpen: Args.boolean(
      "Keep listening after a client leaves (default: serve one client, then exit).",
      "k"
    ),
    maxConnections: Args.integer(
      "N",
      "Serve at most N clients at once (default 1); later ones wait, connected, until a slot frees.",
      "m"
    ),
    echo: Args.boolean(
      "Echo server: send every client back what it sends (standard input is not read).",
      "e"
    ),
    verbose,
    ...tls
  },
  description:
    `Listen on a TCP port (or a Unix socket) and copy the client's bytes to standard output and standard input to the client.

By default etcp serves one client and exits when that client closes the connection, as netcat does. With --keep-open it serves clients until interrupted (Ctrl-C); with --max-connections N, up to N at once (standard input goes to one client at a time, the one connected longest). The port is printed on standard error ("etcp: listening on port N").

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 8 cannot listen (address in use, permission denied), 130 interrupted.

Examples:
  etcp listen --port 9000 > received.txt
  etcp listen --echo --keep-open --max-connections 100 --host 127.0.0.1
  etcp listen --unix /tmp/app.sock --keep-open
  etcp listen --tls --cert server.crt --key server.key --port 9443 --echo --keep-open
  etcp listen                  # the OS chooses the port`
} satisfies Args.Spec

/**
 * `etcp send`.
 *
 * @since 0.2.0
 * @category commands
 */
export const send = {
  name: "send" as const,
  summary: "send a file, with a progress bar",
  synopsis: "FILE [HOST PORT]",
  arguments: [["FILE", "The file to send (\"-\" for standard input)."], ...hostPort],
  maxArgs: 3,
  options: {
    unix,
    timeout,
    limitRate: Args.text(
      "BYTES",
      "Send at most BYTES per second (suffixes k M G, or Ki Mi Gi), e.g. 512Ki."
    )
  },
  description:
    `Send FILE to HOST PORT (or a Unix socket), then half-close and wait until the receiver closes the connection, which confirms it has everything. Anything the receiver sends back is copied to standard output.

On a terminal, standard error shows a progress bar (bytes, rate, ETA); otherwise one summary line at the end. FILE "-" is standard input.

Exit status: as etcp connect (0 done, 1 error during the transfer, 2 bad usage, 3 refused, 4 timed out, 5 host not found, 6 unreachable, 7 other connect failure).

Examples:
  etcp send backup.tar 192.168.1.20 9000
  etcp send --limit-rate 10Mi big.iso localhost 9000
  etcp send data.bin --unix /tmp/upload.sock
  tar c dir | etcp send - host 9000`
} satisfies Args.Spec

/**
 * `etcp receive`.
 *
 * @since 0.2.0
 * @category commands
 */
export const receive = {
  name: "receive" as const,
  summary: "receive a file, with a progress bar",
  synopsis: "",
  arguments: [],
  maxArgs: 0,
  options: {
    port,
    host,
    unix,
    output: Args.text("FILE", "Write to FILE instead of standard output.", "o")
  },
  description:
    `Listen on a TCP port (or a Unix socket), accept one sender, and write what it sends to standard output (or --output FILE) until it closes its side; then close and exit.

On a terminal, standard error shows the bytes received and the rate as they arrive; otherwise one summary line at the end. The port is printed on standard error ("etcp: listening on port N").

Exit status: 0 done, 1 error during the transfer, 2 bad usage, 8 cannot listen, 130 interrupted.

Examples:
  etcp receive --port 9000 > backup.tar
  etcp receive --port 9000 --host 127.0.0.1 --output big.iso
  etcp receive --unix /tmp/upload.sock > data.bin`
} satisfies Args.Spec

/**
 * `etcp bench`.
 *
 * @since 0.2.0
 * @category commands
 */
export const bench = {
  name: "bench" as const,
  summary: "the effect-tcp benchmarks",
  synopsis: "",
  arguments: [],
  maxArgs: 0,
  options: {
    full: Args.boolean("The complete benchmark rather than the quick table."),
    scenarios: Args.text("LIST", "Only these scenarios (comma-separated, as the benchmark names them)."),
    impls: Args.text("LIST", "Only these implementations (comma-separated).")
  },
  description:
    `Run the effect-tcp benchmarks (the repository's packages/bench): the same TCP scenarios on raw node:net, @effect/platform-node sockets and effect-tcp, printed as one table with ratios. By default the quick table; --full runs the complete benchmark (minutes).

Examples:
  etcp bench
  etcp bench --scenarios echo,bulk
  etcp bench --full`
} satisfies Args.Spec

/**
 * Every command, in the order of the help.
 *
 * @since 0.2.0
 * @category commands
 */
export const all = [connect, listen, send, receive, bench] as const

/**
 * A command's name.
 *
 * @since 0.2.0
 * @category models
 */
export type Name = (typeof all)[number]["name"]

/**
 * The version `etcp --version` prints.
 *
 * @since 0.2.0
 * @category constants
 */
export const version = "0.1.0"

/**
 * `etcp --help`.
 *
 * @since 0.2.0
 * @category help
 */
export const topHelp = `etcp ${version}: a netcat for Effect users: TCP and Unix-domain sockets with effect-tcp.

Usage: etcp COMMAND [OPTIONS] [ARGUMENTS]

Commands:
${all.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join("\n")}

Run "etcp COMMAND --help" for a command's options and examples; "etcp --version" prints the version.

Exit status: 0 done, 1 error during the exchange, 2 bad usage, 3 connection refused, 4 connection timed out, 5 host not found, 6 network unreachable, 7 other connect failure, 8 cannot listen, 130 interrupted.

Examples:
  etcp listen --port 9000 &  echo hello | etcp connect localhost 9000
  etcp listen --echo --keep-open --port 7
  etcp receive --port 9000 > copy.bin  &  etcp send file.bin localhost 9000
`
