/**
 * CPU-seconds of a whole process tree, read from a cgroup-v1 cpuacct group made for one run.
 *
 * datatrove's workers run under multiprocess's forkserver, so neither its own getrusage nor
 * `time` of its parent sees their CPU. A cgroup does: every descendant of the process moved into
 * it stays in it. Where cgroups are not writable (no root, cgroup v2 only), runs go unaccounted
 * (null) rather than failing the bench.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs"
import { join } from "node:path"

const cpuacctRoot = "/sys/fs/cgroup/cpuacct"

export interface CpuAccount {
  /** The command, started inside the group. */
  readonly command: Array<string>
  /** CPU-seconds the group's processes used; null where unaccounted. Removes the group. */
  readonly cpuSeconds: () => number | null
}

export const accountCpu = (label: string, command: Array<string>): CpuAccount => {
  const group = join(cpuacctRoot, `fleuve-bench-${label.replace(/[^a-z0-9]+/gi, "-")}-${process.pid}`)
  try {
    if (!existsSync(cpuacctRoot)) throw new Error("no cpuacct")
    mkdirSync(group, { recursive: true })
  } catch {
    return { command, cpuSeconds: () => null }
  }
  // The shell joins the group, then becomes the command: everything it starts is counted.
  const joined = ["sh", "-c", `echo $$ > ${group}/cgroup.procs && exec "$@"`, "sh", ...command]
  return {
    command: joined,
    cpuSeconds: () => {
      const ns = Number(readFileSync(join(group, "cpuacct.usage"), "utf8").trim())
      // The group empties a moment after the run's last process is reaped (forkserver workers
      // exit after the run returns): retry removing it for up to a second, then leave it.
      for (let tries = 0; tries < 20; tries++) {
        try {
          rmdirSync(group)
          break
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
        }
      }
      return ns / 1e9
    }
  }
}
