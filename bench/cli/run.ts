/**
 * Benchmark: CLI start-up, process start to exit, against its floor measured in the same run:
 * a program that only loads effect/cli and @effect/platform-node and prints a one-command help
 * (what any Effect CLI pays). One command:
 *
 *   npx tsx bench/cli/run.ts [runs]          (default 7 runs of each, interleaved; medians)
 *
 * Rows: bare node; the floor; `fleuve --help`, `fleuve query --help` and `fleuve query "SELECT 1"`
 * (compiled sources, .cache/cli warm); `fleuve --help` the old way, through tsx's hooks
 * (FLEUVE_TSX=1); and the first run after a source changed (recompile included).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const dir = join(root, ".cache/bench/cli")
mkdirSync(dir, { recursive: true })
const runs = Number(process.argv[2] ?? 7)
const bin = join(root, "bin/fleuve.mjs")
const warehouse = join(dir, "warehouse.duckdb")
rmSync(warehouse, { force: true })

const floor = join(dir, "floor.mjs")
writeFileSync(floor, `import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { Command, Flag } from "effect/cli"
Command.make("floor", { x: Flag.String("x") }, () => Effect.void).pipe(Command.withDescription("floor"), Command.run({ version: "0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
`)

const time = (args: ReadonlyArray<string>, env: Record<string, string> = {}): number => {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`)
  return Number(process.hrtime.bigint() - start) / 1e9
}

const cases: Array<{ name: string; run: () => number }> = [
  { name: "node -e '' (bare Node)", run: () => time(["-e", ""]) },
  { name: "floor: effect/cli + platform-node, --help", run: () => time([floor, "--help"]) },
  { name: "fleuve --help", run: () => time([bin, "--help"]) },
  { name: "fleuve query --help", run: () => time([bin, "query", "--help"]) },
  { name: "fleuve query \"SELECT 1\"", run: () => time([bin, "query", "--warehouse", warehouse, "SELECT 1"]) },
  { name: "fleuve --help through tsx hooks (FLEUVE_TSX=1)", run: () => time([bin, "--help"], { FLEUVE_TSX: "1" }) },
  {
    name: "fleuve --help, first run after a source change",
    run: () => {
      const now = new Date()
      utimesSync(join(root, "cli/lazy.ts"), now, now)
      return time([bin, "--help"])
    }
  }
]

time([bin, "query", "--warehouse", warehouse, "SELECT 1"]) // creates the warehouse, warms the cache
const samples = cases.map(() => [] as Array<number>)
for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k]!.push(c.run()))
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const floorMedian = median(samples[1]!)
console.log(`${runs} runs each, interleaved; median wall seconds; node ${process.version}`)
cases.forEach((c, k) => {
  const m = median(samples[k]!)
  console.log(`${c.name.padEnd(50)} ${m.toFixed(2)} s   ×${(m / floorMedian).toFixed(2)} floor   (min ${Math.min(...samples[k]!).toFixed(2)}, max ${Math.max(...samples[k]!).toFixed(2)})`)
})
rmSync(warehouse, { force: true })
