/**
 * The MinHash signature loop in WebAssembly SIMD (operators/corpus/wasm/minhash.ts, built into
 * minhash-wasm.ts by scripts/build-corpus-kernels.sh): one instance per thread, made on first
 * use, with its own memory. `undefined` where WebAssembly SIMD is unavailable: MinHasher then
 * runs its JavaScript loop, which gives the same signatures (test/corpus/fast-paths.test.ts).
 */
import { minhashWasmBase64 } from "./wasm/minhash-wasm.ts"

type SignatureExport = (words: number, count: number, k: number, shingles: number, seeds: number, n: number, out: number) => number

export interface SignatureKernel {
  /** The signature of a document from its word hashes: per seed, the minimum over its k-gram shingles. */
  readonly signature: (wordHashes: Uint32Array, seeds: Uint32Array, k: number) => Uint32Array
}

const PAGE = 65536
let kernel: SignatureKernel | undefined | null = null

export const signatureKernel = (): SignatureKernel | undefined => {
  if (kernel !== null) return kernel
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(minhashWasmBase64, "base64")), {})
    const memory = instance.exports.memory as WebAssembly.Memory
    const run = instance.exports.signature as SignatureExport
    let words = new Uint32Array(memory.buffer)
    kernel = {
      signature: (wordHashes, seeds, k) => {
        const n = seeds.length
        // seeds at 0, the signature after them, then the words, then the shingles (scratch).
        const outAt = n
        const wordsAt = (2 * n + 3) & ~3
        const shinglesAt = wordsAt + wordHashes.length
        const needed = (shinglesAt + Math.max(1, wordHashes.length)) * 4
        if (needed > memory.buffer.byteLength) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE))
        if (words.buffer !== memory.buffer) words = new Uint32Array(memory.buffer)
        words.set(seeds, 0)
        words.set(wordHashes, wordsAt)
        run(wordsAt * 4, wordHashes.length, k, shinglesAt * 4, 0, n, outAt * 4)
        return words.slice(outAt, outAt + n)
      }
    }
  } catch {
    kernel = undefined
  }
  return kernel
}
