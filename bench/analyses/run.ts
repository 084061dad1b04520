/**
 * Benchmark: `fleuve analyze` on 10,000,000 score rows vs the pandas + scipy peer (peer.py) on the
 * same data, in the same run. One command:
 *
 *   npx tsx bench/analyses/run.ts            (needs python3 with pandas, scipy, statsmodels, pyarrow)
 *
 * The data (generate.sql) is written once to .cache/bench/analyses/scores.parquet and loaded
 * once into a warehouse there; both sides are then timed end to end as a user runs them (process
 * start to exit, reading the data included); their paired t p-values are cross-checked and their
 * bootstrap intervals compared (independent Monte Carlo draws: they differ by Monte Carlo error).
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const dir = join(root, ".cache/bench/analyses")
const parquet = join(dir, "scores.parquet")
const warehouse = join(dir, "warehouse.duckdb")
const peerOut = join(dir, "peer")
const reference = "sys00"
mkdirSync(dir, { recursive: true })

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9

const duck = async (path: string) => {
  const instance = await DuckDBInstance.create(path)
  return { instance, connection: await instance.connect() }
}

if (!existsSync(parquet)) {
  const start = process.hrtime.bigint()
  const { connection } = await duck(":memory:")
  await connection.run(readFileSync(join(import.meta.dirname, "generate.sql"), "utf8").replace("$OUT", parquet))
  console.error(`generated ${parquet} in ${seconds(start).toFixed(1)}s`)
}

if (!existsSync(warehouse)) {
  // Create through the CLI so the migrations are the real ones, then bulk-load the Parquet file.
  const created = spawnSync(process.execPath, [join(root, "bin/fleuve.mjs"), "query", "--warehouse", warehouse, "SELECT 1"], { encoding: "utf8" })
  if (created.status !== 0) throw new Error(created.stderr)
  const { connection } = await duck(warehouse)
  await connection.run(`INSERT INTO scores (system, task, shots, item_id, dataset_version, metric, score, source)
    SELECT system, task, shots, item_id, dataset_version, metric, score, 'bench' FROM read_parquet('${parquet}')`)
  connection.closeSync()
  console.error(`loaded ${warehouse}`)
}

/**
 * Wall time, and CPU time (user + sys of the process and its children, from bash's `times`):
 * on a machine shared with other jobs the CPU time is the steadier of the two.
 */
const time = (label: string, command: string, args: ReadonlyArray<string>) => {
  const quoted = [command, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")
  const start = process.hrtime.bigint()
  const r = spawnSync("bash", ["-c", `${quoted} 3>&-; status=$?; times >&3; exit $status`], {
    encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe", "pipe"]
  })
  const wall = seconds(start)
  if (r.status !== 0) throw new Error(`${label} failed:\n${r.stderr}`)
  // `times` prints the shell's then its children's user/sys, e.g. "0m1.500s 0m0.250s".
  const toSeconds = (t: string) => { const m = /(\d+)m([\d.]+)s/.exec(t)!; return Number(m[1]) * 60 + Number(m[2]) }
  const childLine = String(r.output[3] ?? "").trim().split("\n")[1] ?? "0m0s 0m0s"
  const cpu = childLine.split(/\s+/).reduce((a, t) => a + toSeconds(t), 0)
  console.error(`${label}: wall ${wall.toFixed(1)}s, cpu ${cpu.toFixed(1)}s\n${r.stdout.trim()}`)
  return { seconds: wall, cpu, stdout: r.stdout, stderr: r.stderr }
}

const fleuve = time("fleuve analyze", process.execPath, [join(root, "bin/fleuve.mjs"), "analyze", "--warehouse", warehouse, "--reference", reference])
rmSync(peerOut, { recursive: true, force: true })
const peer = time("pandas + scipy", "python3", [join(import.meta.dirname, "peer.py"), parquet, reference, peerOut])

// Cross-check: the same numbers from both sides.
const { connection } = await duck(warehouse)
const check = await connection.runAndReadAll(`
  SELECT count(*) AS rows,
         max(abs(f.p_value - p.p_value) / greatest(p.p_value, 1e-300)) AS max_rel_p,
         max(abs(f.p_bh - p.p_bh) / greatest(p.p_bh, 1e-300)) AS max_rel_p_bh,
         min(f.p_value) AS min_p
  FROM paired_tests f JOIN read_parquet('${join(peerOut, "paired_t.parquet")}') p USING (task, shots, system)
  WHERE f.test = 't'`)
const [rows, maxRelP, maxRelBh, minP] = check.getRows()[0]!
// Bootstrap intervals: two independent Monte Carlo estimates (different generators and seeds) of
// the same percentiles, so they differ by Monte Carlo error only. Measured in standard errors of
// the mean difference (se = t CI width / (2 × 1.9602), t(0.975, 9,999)), where the difference of
// two 10,000-resample 2.5% percentiles has an SD of about 0.04 se.
const boot = await connection.runAndReadAll(`
  SELECT count(*) AS rows,
         max(greatest(abs(f.ci_low - p.ci_low), abs(f.ci_high - p.ci_high)) / ((t.ci_high - t.ci_low) / (2 * 1.9602))) AS max_se,
         avg((abs(f.ci_low - p.ci_low) + abs(f.ci_high - p.ci_high)) / 2 / ((t.ci_high - t.ci_low) / (2 * 1.9602))) AS mean_se
  FROM paired_tests f
  JOIN read_parquet('${join(peerOut, "paired_bootstrap.parquet")}') p USING (task, shots, system)
  JOIN paired_tests t USING (task, shots, system)
  WHERE f.test = 'bootstrap' AND t.test = 't' AND t.ci_high > t.ci_low`)
const [bootRows, bootMax, bootMean] = boot.getRows()[0]!
const [scoreRows] = (await connection.runAndReadAll("SELECT count(*) FROM scores")).getRows()[0]!
const steps = fleuve.stderr.trim().split("\n").filter((l) => l.startsWith("analyze:")).map((l) => l.replace("analyze: ", "")).join("; ")
console.log(`score rows: ${scoreRows}; paired t rows compared: ${rows}; max relative p difference ${Number(maxRelP).toExponential(2)} (BH ${Number(maxRelBh).toExponential(2)}); smallest p ${minP}`)
console.log(`bootstrap CIs compared: ${bootRows}; fleuve and numpy differ by ${Number(bootMean).toFixed(3)} se on average, ${Number(bootMax).toFixed(3)} se at most (Monte Carlo error)`)
console.log(`fleuve analyze: wall ${fleuve.seconds.toFixed(1)}s, cpu ${fleuve.cpu.toFixed(1)}s  [${steps}]`)
console.log(`pandas + scipy: wall ${peer.seconds.toFixed(1)}s, cpu ${peer.cpu.toFixed(1)}s  [${peer.stdout.trim()}]`)
console.log(`ratio (pandas / fleuve): wall ${(peer.seconds / fleuve.seconds).toFixed(2)}×, cpu ${(peer.cpu / fleuve.cpu).toFixed(2)}×`)
