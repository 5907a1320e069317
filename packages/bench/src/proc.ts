// Per-process CPU time, page faults and memory, read from /proc (Linux).
import * as fs from "node:fs"

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100

export interface ProcSample {
  /** user + system CPU seconds since the process started */
  readonly cpuS: number
  readonly minflt: number
  readonly majflt: number
  readonly threads: number
  /** peak resident set size (VmHWM), KiB */
  readonly hwmKiB: number
  readonly rssKiB: number
}

export const readProc = (pid: number): ProcSample | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name "(...)", which may itself contain spaces; field 3 is index 0.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)
      return m === null ? NaN : Number(m[1])
    }
    return {
      cpuS: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
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
  /** CPU seconds between the two samples (process startup excluded) */
  readonly cpuS: number
  /** CPU seconds since the process started */
  readonly cpuTotalS: number
  readonly minflt: number
  readonly hwmMiB: number
}

export const usage = (before: ProcSample | undefined, after: ProcSample | undefined): ProcUsage | undefined =>
  before === undefined || after === undefined ? undefined : {
    cpuS: after.cpuS - before.cpuS,
    cpuTotalS: after.cpuS,
    minflt: after.minflt - before.minflt,
    hwmMiB: after.hwmKiB / 1024
  }
