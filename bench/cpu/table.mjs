// The markdown table of bench/cpu results: node bench/cpu/table.mjs out/bench-cpu/results.jsonl
import { readFileSync } from "node:fs"
const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l))
const groups = new Map()
for (const r of rows) groups.set(`${r.model} ${r.task}`, [...(groups.get(`${r.model} ${r.task}`) ?? []), r])
const f = (x) => (x === undefined ? "—" : x >= 100 ? Math.round(x).toLocaleString("en") : x.toFixed(1))
const ratio = (a, b) => (a === undefined || b === undefined ? "—" : `${(a / b).toFixed(2)}×`)
const withBase = rows.some((r) => r.side === "baseline")
console.log(`| model | task | tokens/step | fleuve cpu-fused tok/s: wall · per CPU-s | PyTorch tok/s: wall · per CPU-s | fleuve ÷ PyTorch: wall · CPU | tfjs cpu tok/s: wall · per CPU-s | cpu-fused ÷ cpu: wall · CPU |${withBase ? " baseline cpu-fused tok/s: wall · per CPU-s | ÷ baseline: wall · CPU |" : ""}`)
console.log(`|---|---|---|---|---|---|---|---|${withBase ? "---|---|" : ""}`)
for (const [k, g] of groups) {
  const fl = g.find((r) => r.side === "fleuve" && r.backend === "cpu-fused")
  const base = g.find((r) => r.side === "baseline")
  const pt = g.find((r) => r.side === "pytorch")
  const cpu = g.find((r) => r.side === "fleuve" && r.backend === "cpu")
  const any = fl ?? pt ?? cpu
  const [model, task] = k.split(" ")
  console.log(
    `| ${model} | ${task} | ${any.batch}×${any.seq} | ${f(fl?.tokens_per_s)} · ${f(fl?.tokens_per_cpu_s)} | ${f(pt?.tokens_per_s)} · ${f(pt?.tokens_per_cpu_s)} | ` +
      `${ratio(fl?.tokens_per_s, pt?.tokens_per_s)} · ${ratio(fl?.tokens_per_cpu_s, pt?.tokens_per_cpu_s)} | ${f(cpu?.tokens_per_s)} · ${f(cpu?.tokens_per_cpu_s)} | ` +
      `${ratio(fl?.tokens_per_s, cpu?.tokens_per_s)} · ${ratio(fl?.tokens_per_cpu_s, cpu?.tokens_per_cpu_s)} |` +
      (withBase ? ` ${f(base?.tokens_per_s)} · ${f(base?.tokens_per_cpu_s)} | ${ratio(fl?.tokens_per_s, base?.tokens_per_s)} · ${ratio(fl?.tokens_per_cpu_s, base?.tokens_per_cpu_s)} |` : "")
  )
}
