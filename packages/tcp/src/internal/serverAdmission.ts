/**
 * Who gets a handler, who waits and who is turned away: the accept policy of a server, kept
 * apart from sockets and fibers so that it can be tested on its own.
 *
 * Node accepts every connection the kernel has (libuv accepts until EAGAIN), so the limit is
 * applied after accepting: below `maxConnections` a connection starts at once; at the limit it
 * is held (paused, unread) in arrival order, up to `maxWaiting` of them; beyond that it is turned
 * away. When slots free, at most `maxAcceptsPerBatch` held connections start per turn of the
 * event loop.
 *
 * @internal
 */

/** Why a connection was turned away. */
export type Rejection = "drop" | "overflow" | "closed"

export interface AdmissionConfig<T> {
  readonly maxConnections: number
  readonly maxWaiting: number
  readonly maxAcceptsPerBatch: number
  readonly drop: boolean
  /** Starts a handler for `item`; the item counts as live until `release` is called for it. */
  readonly start: (item: T) => void
  /** Closes an item that will never be served. */
  readonly reject: (item: T, why: Rejection) => void
  /** Whether a held item is still worth starting (its socket may have been destroyed). */
  readonly usable: (item: T) => boolean
  /** Runs `f` on a later turn of the event loop (`setImmediate` in production). */
  readonly schedule: (f: () => void) => void
}

/** @internal */
export class Admission<T> {
  /** Items with a handler (started and not yet released). */
  live = 0
  drop: boolean
  closed = false
  private queue: Array<T | undefined> = []
  private head = 0
  private drainScheduled = false

  constructor(private readonly config: AdmissionConfig<T>) {
    this.drop = config.drop
  }

  /** Items held, waiting for a slot. */
  get waiting(): number {
    return this.queue.length - this.head
  }

  /** A connection was accepted. */
  offer(item: T): void {
    if (this.closed) return this.config.reject(item, "closed")
    if (this.drop) return this.config.reject(item, "drop")
    if (this.live < this.config.maxConnections && this.waiting === 0) {
      this.live++
      return this.config.start(item)
    }
    if (this.waiting >= this.config.maxWaiting) return this.config.reject(item, "overflow")
    this.queue.push(item)
    this.scheduleDrain()
  }

  /** A handler's connection is fully closed: its slot is free. */
  release(): void {
    this.live--
    this.scheduleDrain()
  }

  /** Stops admitting; every held item is rejected. */
  close(): void {
    if (this.closed) return
    this.closed = true
    const held = this.queue
    const from = this.head
    this.queue = []
    this.head = 0
    for (let i = from; i < held.length; i++) this.config.reject(held[i] as T, "closed")
  }

  private dequeue(): T {
    const item = this.queue[this.head] as T
    this.queue[this.head] = undefined
    this.head++
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return item
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed || this.waiting === 0 || this.live >= this.config.maxConnections) return
    this.drainScheduled = true
    this.config.schedule(this.drain)
  }

  private readonly drain = (): void => {
    this.drainScheduled = false
    let started = 0
    while (
      started < this.config.maxAcceptsPerBatch && !this.closed && this.waiting > 0 &&
      this.live < this.config.maxConnections
    ) {
      const item = this.dequeue()
      if (!this.config.usable(item)) {
        this.config.reject(item, "closed")
        continue
      }
      this.live++
      started++
      this.config.start(item)
    }
    this.scheduleDrain()
  }
}
