/**
 * Strings remembered by a 64-bit fingerprint (two 32-bit hashes) in an open-addressing table of
 * typed arrays: ~16-32 bytes a string, no string kept. `add` answers whether the string may have
 * been added before: `false` is certain (never added), `true` is a fingerprint match (added, or
 * one in ~2^64 / n a collision). For checks where a false `true` only costs a slower path.
 */
export class FingerprintSet {
  private hi = new Uint32Array(1024)
  private lo = new Uint32Array(1024)
  private used = 0

  get size() {
    return this.used
  }

  /** Adds `s`; true when its fingerprint was already there. */
  add(s: string): boolean {
    let h1 = 0x811c9dc5
    let h2 = 0x9747b28c
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 0x01000193)
      h2 = Math.imul(h2 ^ c, 0x5bd1e995)
      h2 ^= h2 >>> 15
    }
    h1 = mix(h1) | 1 // 0 marks an empty slot: the high word is never 0.
    h2 = mix(h2 ^ s.length)
    if ((this.used + 1) * 2 > this.hi.length) this.grow()
    return this.insert(h1 >>> 0, h2 >>> 0)
  }

  private insert(h1: number, h2: number): boolean {
    const mask = this.hi.length - 1
    for (let i = (h2 ^ Math.imul(h1, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const at = this.hi[i]!
      if (at === 0) {
        this.hi[i] = h1
        this.lo[i] = h2
        this.used++
        return false
      }
      if (at === h1 && this.lo[i] === h2) return true
    }
  }

  private grow() {
    const hi = this.hi
    const lo = this.lo
    this.hi = new Uint32Array(hi.length * 2)
    this.lo = new Uint32Array(hi.length * 2)
    this.used = 0
    for (let j = 0; j < hi.length; j++) if (hi[j] !== 0) this.insert(hi[j]!, lo[j]!)
  }
}

const mix = (h: number) => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}
