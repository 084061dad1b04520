import { type Gpu, pickMatrixConfig } from "../../../model/wgsl/kernels/device.ts"

/**
 * Rewrites a tensor-core WGSL kernel (subgroup matrices over f16) into plain f32 WGSL that
 * SwiftShader runs: every lane holds each F×F fragment whole (array<f32, F·F>) and computes it
 * alone, so the lanes of a subgroup agree and their stores of C write the same values. What stays
 * exactly as generated is everything around the fragments — the global loads (f16 words unpacked
 * with unpack2x16float instead of bitcast), the workgroup-memory staging, stages and barriers, the
 * tile walk and every fragment offset and stride — which is what a CPU-only CI can check.
 *
 * Only the forms matmul-tiles.ts and attention-flash.ts emit are handled: square fragments, loads from workgroup arrays,
 * C or f16 storage arrays (read as packed words: SwiftShader has no f16), stores to C or workgroup
 * arrays, fragment variables.
 */
export const emulateSubgroupMatrices = (code: string, F: number): string => {
  const arrays = new Set<string>()
  const stores = new Set<string>()
  const packed = new Set<string>()
  let out = code
    .replace(/var<storage, read> (\w+): array<f16>;/g, (_, name: string) => {
      packed.add(name)
      return `var<storage, read> ${name}: array<u32>;`
    })
    .replace(/^enable (f16|subgroups|chromium_experimental_subgroup_matrix);\n/gm, "")
    .replace(/^diagnostic\(off, chromium\.subgroup_matrix_uniformity\);\n/m, "")
    .replaceAll("bitcast<vec2<f16>>(", "unpack2x16float(")
    .replace(/subgroupMatrixLoad<subgroup_matrix_(?:left|right|result)<f(?:16|32), \d+, \d+>>\(&(\w+), /g, (_, name: string) => {
      arrays.add(name)
      return `smLoad_${name}(`
    })
    .replace(/subgroupMatrixStore\(&(\w+), /g, (_, name: string) => {
      stores.add(name)
      return `smStore_${name}(`
    })
    .replace(/subgroup_matrix_(?:left|right)<f16, \d+, \d+>/g, "SM")
    .replace(/subgroup_matrix_result<f32, \d+, \d+>\(\)/g, "SM()")
    .replaceAll("subgroupMatrixMultiplyAccumulate(", "smMma(")
    .replaceAll("array<f16,", "array<f32,")
    .replace(/\bf16\(/g, "f32(")
  if (/subgroup|f16/.test(out)) throw new Error(`emulateSubgroupMatrices: form left unrewritten: ${out.match(/.*(subgroup|f16).*/)?.[0]}`)
  const load = (name: string) => `fn smLoad_${name}(off: u32, col: bool, stride: u32) -> SM {
  var m: SM;
  for (var r = 0u; r < ${F}u; r++) {
    for (var c = 0u; c < ${F}u; c++) {
      let i = select(off + r * stride + c, off + c * stride + r, col);
      m[r * ${F}u + c] = ${packed.has(name) ? `unpack2x16float(${name}[i / 2u])[i % 2u]` : `${name}[i]`};
    }
  }
  return m;
}`
  const store = (name: string) => `fn smStore_${name}(off: u32, m: SM, col: bool, stride: u32) {
  for (var r = 0u; r < ${F}u; r++) {
    for (var c = 0u; c < ${F}u; c++) {
      ${name}[select(off + r * stride + c, off + c * stride + r, col)] = m[r * ${F}u + c];
    }
  }
}`
  const helpers = `alias SM = array<f32, ${F * F}>;
${[...arrays].map(load).join("\n")}
${[...stores].map(store).join("\n")}
fn smMma(a: SM, b: SM, acc: SM) -> SM {
  var o = acc;
  for (var r = 0u; r < ${F}u; r++) {
    for (var c = 0u; c < ${F}u; c++) {
      var s = o[r * ${F}u + c];
      for (var k = 0u; k < ${F}u; k++) { s = fma(a[r * ${F}u + k], b[k * ${F}u + c], s); }
      o[r * ${F}u + c] = s;
    }
  }
  return o;
}
`
  // helpers after the module-scope declarations they read (the workgroup arrays and C)
  const at = out.indexOf("@compute")
  out = `${out.slice(0, at)}${helpers}\n${out.slice(at)}`
  return out
}

/**
 * The fragment size a tensor-core kernel test builds for on this GPU: the adapter's own, or (where it
 * has no subgroup matrices, e.g. SwiftShader) 16 with every fragment emulated in f32.
 */
export const fragmentsOf = (gpu: Gpu): { readonly F: number; readonly emulated: boolean; readonly emulate: ((wgsl: string) => string) | undefined } => {
  const cfg = pickMatrixConfig(gpu)
  const F = cfg?.M ?? 16
  return { F, emulated: !cfg, emulate: cfg ? undefined : (wgsl) => emulateSubgroupMatrices(wgsl, F) }
}
