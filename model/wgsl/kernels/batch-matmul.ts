/**
 * Batched matmul over f32 tensors in tfjs' layout — C[z] = op(A[z]) · op(B[z]), op = optional
 * transpose — on the tensor cores (`chromium-experimental-subgroup-matrix`): mixed precision,
 * operands rounded to f16 as tiles are loaded into workgroup memory, products accumulated in
 * f32. Weights, activations and gradients stay f32 tensors (f32 master weights for training);
 * only the multiply runs in f16.
 *
 * One subgroup a workgroup computes a 64×64 tile of C as 4×4 fragments of 16×16 (every matrix
 * load/store offset is then workgroup-uniform, which WGSL requires; the 8-subgroup variant of
 * matmul.ts is refused for that reason). BK = 32.
 *
 * Shapes it takes: M and N multiples of 64, K a multiple of 32; batch strides of 0 broadcast one
 * operand (tfjs' batch broadcasting of a batch of 1). Anything else stays on the stock kernel.
 */

import { fragmentAccumulators, fragmentProducts, storeFragments } from "./subgroup-matrix.ts"
import { range } from "./codegen.ts"

export const TILE = 64
export const BK = 32

export interface BatchMatmulShape {
  readonly batch: number
  readonly M: number
  readonly N: number
  readonly K: number
}

export const fitsTensorCores = (s: BatchMatmulShape): boolean => s.M % TILE === 0 && s.N % TILE === 0 && s.K % BK === 0 && s.batch <= 65535 && s.N / TILE <= 65535 && s.M / TILE <= 65535

const F = 16
const THREADS = 32
const PER_LANE = (TILE * BK) / 4 / THREADS // vec4 loads per lane per operand tile

/**
 * Loads a 64 × 32 tile (rows × k) of an operand into `dst` as f16, row-major [row][k]. `rowsMajor`:
 * the operand is stored [rows, K] (k contiguous); otherwise [K, rows] (rows contiguous), and
 * lanes walk along rows so that reads stay coalesced.
 */
const loadTile = (src: string, dst: string, off: string, row0: string, rows: string, rowsMajor: boolean) =>
  range(PER_LANE).map((i) => rowsMajor
    ? `    {
      let idx = lid + ${i * THREADS}u;
      let r = idx / ${BK / 4}u;
      let c = (idx % ${BK / 4}u) * 4u;
      let v = ${src}[(${off} + (${row0} + r) * p.K + k0 + c) / 4u];
      ${range(4).map((j) => `${dst}[r * ${BK}u + c + ${j}u] = f16(v[${j}]);`).join(" ")}
    }`
    : `    {
      let idx = lid + ${i * THREADS}u;
      let kk = idx / ${TILE / 4}u;
      let r = (idx % ${TILE / 4}u) * 4u;
      let v = ${src}[(${off} + (k0 + kk) * ${rows} + ${row0} + r) / 4u];
      ${range(4).map((j) => `${dst}[(r + ${j}u) * ${BK}u + kk] = f16(v[${j}]);`).join(" ")}
    }`).join("\n")

/** WGSL for one (transposeA, transposeB) pair; bindings: C, A, B, params {M, N, K, strideA, strideB}. */
export const batchMatmulWgsl = (transposeA: boolean, transposeB: boolean): string => {
  const fr = TILE / F
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
struct P { M: u32, N: u32, K: u32, strideA: u32, strideB: u32 }
@group(0) @binding(0) var<storage, read_write> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> As: array<f16, ${TILE * BK}>;
var<workgroup> Bs: array<f16, ${TILE * BK}>;

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * ${TILE}u;
  let n0 = wg.x * ${TILE}u;
  let offA = wg.z * p.strideA;
  let offB = wg.z * p.strideB;
${fragmentAccumulators(fr, F)}
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
${loadTile("A", "As", "offA", "m0", "p.M", !transposeA)}
${loadTile("B", "Bs", "offB", "n0", "p.N", transposeB)}
    workgroupBarrier();
${fragmentProducts(fr, F, BK)}
    workgroupBarrier();
  }
  let base = wg.z * p.M * p.N + m0 * p.N + n0;
${storeFragments(fr, F, "base")}
}
`
}

/** f64 reference of the same product (operands rounded to f16 as the kernel does), for tests. */
export const batchMatmulRef = (
  a: Float32Array, b: Float32Array, s: BatchMatmulShape, transposeA: boolean, transposeB: boolean, batchA: number, batchB: number,
  round: (x: Float32Array) => Float32Array
): Float32Array => {
  const ar = round(a)
  const br = round(b)
  const { batch, M, N, K } = s
  const out = new Float32Array(batch * M * N)
  for (let z = 0; z < batch; z++) {
    const oa = (batchA === 1 ? 0 : z) * M * K
    const ob = (batchB === 1 ? 0 : z) * K * N
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0
        for (let k = 0; k < K; k++) {
          const x = ar[oa + (transposeA ? k * M + m : m * K + k)]!
          const y = br[ob + (transposeB ? n * K + k : k * N + n)]!
          sum += x * y
        }
        out[z * M * N + m * N + n] = sum
      }
    }
  }
  return out
}
