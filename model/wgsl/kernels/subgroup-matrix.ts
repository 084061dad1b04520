/**
 * WGSL pieces shared by the tensor-core kernels (matmul.ts, batch-matmul.ts): one subgroup owns
 * fr × fr result fragments of F × F; A tiles sit in workgroup memory `As` as [row][k] and B tiles
 * in `Bs` as [col][k], BK values of k a tile.
 */

import { range } from "./codegen.ts"


/**
 * `var acc_i_j` for every fragment: zero, or C's values from the tile's first element `from`
 * (row stride p.N) when the product accumulates onto C (C += A·Bᵀ, a residual add for free).
 */
export const fragmentAccumulators = (fr: number, F: number, from?: string): string =>
  range(fr).flatMap((i) => range(fr).map((j) => from === undefined
    ? `  var acc_${i}_${j} = subgroup_matrix_result<f32, ${F}, ${F}>();`
    : `  var acc_${i}_${j} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&C, ${from} + ${i * F}u * p.N + ${j * F}u, false, p.N);`)).join("\n")

/** The multiply-accumulate over one loaded tile: BK / F steps, each fr B fragments and fr A fragments. */
export const fragmentProducts = (fr: number, F: number, BK: number): string => `    for (var kk = 0u; kk < ${BK}u; kk += ${F}u) {
${range(fr).map((j) => `      let b${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Bs, ${j * F * BK}u + kk, true, ${BK}u);`).join("\n")}
${range(fr).map((i) => `      {
        let a = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&As, ${i * F * BK}u + kk, false, ${BK}u);
${range(fr).map((j) => `        acc_${i}_${j} = subgroupMatrixMultiplyAccumulate(a, b${j}, acc_${i}_${j});`).join("\n")}
      }`).join("\n")}
    }`

/** Stores every fragment into C (row stride p.N) from the tile's first element `base`. */
export const storeFragments = (fr: number, F: number, base: string): string =>
  range(fr).flatMap((i) => range(fr).map((j) => `  subgroupMatrixStore(&C, ${base} + ${i * F}u * p.N + ${j * F}u, acc_${i}_${j}, false, p.N);`)).join("\n")
