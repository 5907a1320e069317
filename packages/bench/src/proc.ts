// Per-process CPU time, page faults and memory, read from /proc (Linux).
import * as fs from "node:fs"

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100

export interface ProcSample {
  /** user + system CPU seconds since the process started (every thread, live or exited) */
  readonly cpuS: number
  readonly userS: number
  readonly sysS: number
  /** user + system CPU seconds of the main thread (the JavaScript thread, the event loop) */
  readonly mainS: number
  readonly minflt: number
  readonly majflt: number
  readonly threads: number
  /** peak resident set size (VmHWM), KiB */
  readonly hwmKiB: number
  readonly rssKiB: number
}

/** Fields after the command name "(...)", which may itself contain spaces; field 3 is index 0. */
const statFields = (file: string): Array<string> => {
  const stat = fs.readFileSync(file, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

export const readProc = (pid: number): ProcSample | undefined => {
  try {
    const f = statFields(`/proc/${pid}/stat`)
    const main = statFields(`/proc/${pid}/task/${pid}/stat`)
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)
      return m === null ? NaN : Number(m[1])
    }
    const userS = Number(f[11]) / CLOCK_TICKS
    const sysS = Number(f[12]) / CLOCK_TICKS
    return {
      cpuS: userS + sysS,
      userS,
      sysS,
      mainS: (Number(main[11]) + Number(main[12])) / CLOCK_TICKS,
      minflt: Number(f[7]),
      majflt: Number(f[9]),
      threads: Number(f[17]),
      hwmKiB: kib("VmHWM"),
      rssKiB: kib("VmRSS")
    }
  } catch {
    return undefined
  }
}

export interface ProcUsage {
  /** CPU seconds (user + system, every thread) between the two samples (process startup excluded) */
  readonly cpuS: number
  readonly userS: number
  readonly sysS: number
  /**
   * CPU seconds of every thread but the main one: V8's background threads (concurrent marking,
   * sweeping, compilation) and libuv's pool
   */
  readonly bgS: number
  /** CPU seconds since the process started */
  readonly cpuTotalS: number
  readonly minflt: number
  readonly hwmMiB: number
  readonly rssMiB: number
}

export const usage = (before: ProcSample | undefined, after: ProcSample | undefined): ProcUsage | undefined =>
  before === undefined || after === undefined ? undefined : {
    cpuS: after.cpuS - before.cpuS,
    userS: after.userS - before.userS,
    sysS: after.sysS - before.sysS,
    bgS: Math.max(0, after.cpuS - after.mainS - (before.cpuS - before.mainS)),
    cpuTotalS: after.cpuS,
    minflt: after.minflt - before.minflt,
    hwmMiB: after.hwmKiB / 1024,
    rssMiB: after.rssKiB / 1024
  }

/**
 * The processes `pid` forked (a `node:cluster` primary's workers), from every one of its threads'
 * `/proc/<pid>/task/<tid>/children`, in the order the kernel lists them (oldest first).
 */
export const childPids = (pid: number): Array<number> => {
  const pids: Array<number> = []
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim()
      if (text !== "") pids.push(...text.split(" ").map(Number))
    }
  } catch {
    // gone, or a kernel without CONFIG_PROC_CHILDREN: no per-worker figures
  }
  return pids
}
