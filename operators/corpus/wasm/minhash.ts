// MinHash signatures in WebAssembly SIMD (AssemblyScript; built by scripts/build-corpus-kernels.sh
// into minhash-wasm.ts, which is committed). operators/corpus/minhash.ts hands over a document's
// word hashes and the hash functions' seeds; this computes the word k-gram shingles and, per hash
// function, the minimum of fmix32(shingle ^ seed), four functions to a vector and sixteen to a pass
// over the shingles. It skips the JavaScript version's sort and de-duplication of the shingles: a
// minimum does not change when a value is seen twice, and the sort cost more than the repeats.
// Layout (byte addresses): the caller's words, seeds and output; `shingles` is scratch.

@inline function fmix(h: u32): u32 {
  h ^= h >>> 16
  h *= 0x85ebca6b
  h ^= h >>> 13
  h *= 0xc2b2ae35
  h ^= h >>> 16
  return h
}

@inline function fmix4(v: v128): v128 {
  v = v128.xor(v, i32x4.shr_u(v, 16))
  v = i32x4.mul(v, i32x4.splat(0x85ebca6b))
  v = v128.xor(v, i32x4.shr_u(v, 13))
  v = i32x4.mul(v, i32x4.splat(0xc2b2ae35))
  v = v128.xor(v, i32x4.shr_u(v, 16))
  return v
}

/** Writes the signature (n u32) at `out`; returns the number of shingles. */
export function signature(words: usize, count: i32, k: i32, shingles: usize, seeds: usize, n: i32, out: usize): i32 {
  const m = max(1, count - k + 1)
  for (let i = 0; i < m; i++) {
    let h: u32 = 0x1234567
    const end = min(count, i + k)
    for (let j = i; j < end; j++) h = fmix((h * 31) ^ load<u32>(words + (<usize>j << 2)))
    store<u32>(shingles + (<usize>i << 2), h)
  }
  let f = 0
  for (; f + 16 <= n; f += 16) {
    const s = seeds + (<usize>f << 2)
    const s0 = v128.load(s)
    const s1 = v128.load(s, 16)
    const s2 = v128.load(s, 32)
    const s3 = v128.load(s, 48)
    let m0 = i32x4.splat(-1)
    let m1 = m0
    let m2 = m0
    let m3 = m0
    for (let i = 0; i < m; i++) {
      const x = i32x4.splat(load<u32>(shingles + (<usize>i << 2)))
      m0 = i32x4.min_u(m0, fmix4(v128.xor(x, s0)))
      m1 = i32x4.min_u(m1, fmix4(v128.xor(x, s1)))
      m2 = i32x4.min_u(m2, fmix4(v128.xor(x, s2)))
      m3 = i32x4.min_u(m3, fmix4(v128.xor(x, s3)))
    }
    const o = out + (<usize>f << 2)
    v128.store(o, m0)
    v128.store(o, m1, 16)
    v128.store(o, m2, 32)
    v128.store(o, m3, 48)
  }
  for (; f + 4 <= n; f += 4) {
    const s0 = v128.load(seeds + (<usize>f << 2))
    let m0 = i32x4.splat(-1)
    for (let i = 0; i < m; i++) m0 = i32x4.min_u(m0, fmix4(v128.xor(i32x4.splat(load<u32>(shingles + (<usize>i << 2))), s0)))
    v128.store(out + (<usize>f << 2), m0)
  }
  for (; f < n; f++) {
    const seed = load<u32>(seeds + (<usize>f << 2))
    let lo: u32 = 0xffffffff
    for (let i = 0; i < m; i++) lo = min(lo, fmix(load<u32>(shingles + (<usize>i << 2)) ^ seed))
    store<u32>(out + (<usize>f << 2), lo)
  }
  return m
}
