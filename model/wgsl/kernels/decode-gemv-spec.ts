/**
 * The fused decoding GEMVs' specification (model/wgsl/kernels/decode-layer.ts on the CUDA cores,
 * decode-gemv-tc.ts on the tensor cores): its own module so that both kernels' files import it
 * and neither imports the other.
 */

export type DecodeStorage = "f16" | "f32"

/**
 * How a GEMV spreads over a 256-thread workgroup: `columns` output columns a thread (gate-up:
 * the gate and up columns of each of these indices), each column's K walked by 32 · `slices`
 * threads (more slices: more threads in flight on a narrow N, but each workgroup reads the
 * activations for fewer columns). Workgroups: N / ((8 / slices) · columns).
 */
export interface GemvShape {
  readonly columns: 1 | 2 | 4
  readonly slices: 1 | 2 | 4 | 8
}

export interface DecodeGemvSpec {
  readonly storage: DecodeStorage
  /** fold an RMSNorm of A (f32 [M, K]) into the product; A is `storage` [M, K] otherwise */
  readonly norm: boolean
  /** "one": B [N, K]; "qkv": three weights side by side along N (boundaries p.n1, p.n2); "gate-up": two weights of N rows each, SiLU(A·B0ᵀ)·(A·B1ᵀ) out */
  readonly weights: "one" | "qkv" | "gate-up"
  /** "store": C = f32 product; "accumulate": C += product (the residual); gate-up writes Y in `storage` */
  readonly out: "store" | "accumulate"
  /** rows of A the kernel is written for (M ≤ rows; default DECODE_ROWS): fewer rows, fewer registers and reductions */
  readonly rows?: number
  readonly shape?: GemvShape
  /**
   * sum each column's 32 partial sums with subgroupAdd (one warp a column group: slices 1, 32-lane
   * subgroups) instead of through workgroup memory and its barriers: at one row a GEMV is a few µs
   * of loads and its reductions' barriers were a good part of the rest
   */
  readonly subgroupReduce?: boolean
  /**
   * A is not bound: the split attention's partial softmaxes (decodeAttendSplitWgsl's Part, of
   * `heads` heads of `headDim`) are folded into A = the attention's output [M, heads · headDim]
   * in workgroup memory first, as decodeAttendCombineWgsl would have written it (the o GEMV
   * only, weights "one", norm false): one dispatch a layer less. K must be heads · headDim.
   */
  readonly combine?: { readonly heads: number; readonly headDim: number }
}
