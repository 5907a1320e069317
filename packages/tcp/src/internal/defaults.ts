/**
 * Every default of effect-tcp, in one place (Async's defaults for `Tcp`, `Reader`, `Writer` and
 * `Tcp.Server.create`). The public docs quote these values.
 *
 * @internal
 */
import * as Duration from "effect/Duration"

/** Reader and writer (`ReaderOptions`, `WriterOptions`). */
export const readerBufferSize = 128 * 1024
export const writerBufferSize = 130 * 1024
export const maxLineLength = 1024 * 1024
/** The most one read may buffer (`readExactly`, `peek`, `readAll`, `readUntil`): as `maxLineLength`. */
export const maxReadLength = 1024 * 1024
export const bufferAgeLimit = Duration.minutes(2)
export const closeTimeout = Duration.seconds(30)

/** Connecting (`ConnectOptions`). */
export const connectTimeout = Duration.seconds(10)
export const resolveTimeout = Duration.seconds(10)

/** Socket options (`SocketOptions`): TCP_NODELAY on, keep-alive off. */
export const noDelay = true
export const keepAlive = false

/** Serving (`ServerOptions`). */
export const maxConnections = 10_000
/** Node's default listen backlog (Async's 64 overflows the kernel's accept queue under a connect burst). */
export const backlog = 511
/** Connections held, accepted but unread, while at `maxConnections`. */
export const maxWaiting = 1024
export const maxAcceptsPerBatch = 1
export const dropIncomingConnections = false
export const shutdownGracePeriod = Duration.seconds(10)

/** A server on `node:cluster` workers (`ServerClusterOptions`); its grace period is `shutdownGracePeriod`. */
export const clusterRestartLimit = 5
/** More workers than this is a mistake (a computed count), not a machine: refused before any fork. */
export const clusterMaxWorkers = 1024
export const clusterRestartWindow = Duration.minutes(1)
export const clusterStartTimeout = Duration.seconds(30)
/** After a worker said it stopped (or the grace period and this more passed): SIGTERM, then SIGKILL after this. */
export const clusterKillAfter = Duration.seconds(5)
export const clusterStatsTimeout = Duration.seconds(2)

/**
 * `@effect/cluster` runners (`ClusterSocket`): `NodeClusterSocket`'s connect timeout, and a short
 * grace period because runners keep their connections to each other open (see `ClusterSocket`).
 */
export const runnerConnectTimeout = Duration.seconds(1)
export const runnerShutdownGracePeriod = Duration.millis(500)
