// GFLOP per CPU-second (user + system, all threads: a busy machine's queue does not count) of the
// fused CPU path's three matrix products, JavaScript vs WebAssembly SIMD (1 and all threads), at
// the shapes of the benchmark models. `npx tsx bench/cpu/gemm.ts`
import { jsKernels, type CpuKernels } from "../../model/cpu/kernels.ts"
import { wasmKernels } from "../../model/cpu/wasm-kernels.ts"

const shapes: Array<[string, number, number, number]> = [
  ["demo mlp 256×192×64", 256, 192, 64],
  ["slice q_proj 256×2048×1024", 256, 2048, 1024],
  ["slice down 256×1024×3072", 256, 1024, 3072],
]
const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const time = (f: () => void, budget = 1.5) => {
  f()
  const t0 = cpu()
  let n = 0
  while (cpu() - t0 < budget) { f(); n++ }
  return (cpu() - t0) / n
}
const kernels: Array<CpuKernels> = [jsKernels(), wasmKernels({ threads: 1 }), wasmKernels()]
for (const [label, m, n, k] of shapes) {
  for (const K of kernels) {
    const a = K.alloc(m * k).fill(0.5), b = K.alloc(n * k).fill(0.25), c = K.alloc(m * n), ct = K.alloc(n * k)
    const nt = time(() => K.gemmNT(a, b, c, m, n, k, 1, false))
    const nn = time(() => K.gemmNN(c, b, a, m, k, n, 1, false))
    const tn = time(() => K.gemmTN(c, a, ct, n, k, m, 1, false))
    const g = (s: number) => ((2 * m * n * k) / s / 1e9).toFixed(2)
    console.log(`${label.padEnd(28)} ${K.name.padEnd(28)} NT ${g(nt)}  NN ${g(nn)}  TN ${g(tn)} GFLOP per CPU-s`)
  }
}
process.exit(0)
