// Imported first by the Kafka benchmarks, so that they run under the V8 flags `fleuve` itself
// starts with (bin/node-flags.mjs): where node was started without them, the script runs again in
// a child node that has them (same arguments, same terminal) and this process exits with the
// child's status before loading anything else. FLEUVE_BENCH_NODE_FLAGS=0 times V8's defaults
// instead (the flags' A/B).
import { spawnSync } from "node:child_process"
import { NODE_FLAGS } from "../../bin/node-flags.mjs"

const defaults = process.env.FLEUVE_BENCH_NODE_FLAGS === "0"
const missing = defaults ? [] : NODE_FLAGS.filter((f) => !process.execArgv.includes(f))
if (missing.length > 0) {
  const child = spawnSync(process.execPath, [...missing, ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" })
  process.exit(child.status ?? 1)
}

/** The flags this process runs under, for a benchmark's header. */
export const nodeFlagsLine = defaults ? "node: V8's defaults (FLEUVE_BENCH_NODE_FLAGS=0)" : `node: ${NODE_FLAGS.join(" ")} (bin/node-flags.mjs)`
