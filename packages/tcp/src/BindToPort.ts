/**
 * Which port a server binds: Async's `Tcp.Bind_to_port`.
 *
 * Values are plain data (`Data.TaggedEnum`, structural `Equal`/`Hash`). The port is checked when
 * the server starts (an integer from 0 to 65535, else `InvalidArgument`); these constructors
 * never throw. `OnPort(0)` is the same as `OnPortChosenByOs`.
 *
 * @since 0.1.0
 * @module
 */
import * as Data from "effect/Data"

/**
 * A given port, or one the OS chooses (the server reports it in `listeningOn`).
 *
 * @since 0.1.0
 * @category models
 */
export type BindToPort = Data.TaggedEnum<{
  /** This port. */
  OnPort: { readonly port: number }
  /** A free port the OS chooses; an "address in use" on it is retried. */
  OnPortChosenByOs: {}
}>

/**
 * A given port.
 *
 * @since 0.1.0
 * @category models
 */
export type OnPort = Data.TaggedEnum.Value<BindToPort, "OnPort">

/**
 * A port chosen by the OS.
 *
 * @since 0.1.0
 * @category models
 */
export type OnPortChosenByOs = Data.TaggedEnum.Value<BindToPort, "OnPortChosenByOs">

const ctor = Data.taggedEnum<BindToPort>()

/**
 * Binds this port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const OnPort = (port: number): OnPort => ctor.OnPort({ port })

/**
 * Binds a free port chosen by the OS; `server.listeningOn` says which. If binding meets "address
 * in use" (possible when another process races for the same ephemeral port), it is retried.
 *
 * @since 0.1.0
 * @category constructors
 */
export const OnPortChosenByOs: OnPortChosenByOs = ctor.OnPortChosenByOs()

/**
 * Whether a value is a given variant.
 *
 * @since 0.1.0
 * @category guards
 */
export const $is = ctor.$is

/**
 * Pattern-matches the variants.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const $match = ctor.$match

/**
 * The port number asked for: the port, or 0 when the OS chooses.
 *
 * @since 0.1.0
 * @category accessors
 */
export const toNumber = (port: BindToPort): number => port._tag === "OnPort" ? port.port : 0
