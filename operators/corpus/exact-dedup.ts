import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

/**
 * Content hash → the document that holds it; seeded from the warehouse on incremental runs.
 * sha256 hashes (64 hex digits, as the reader and normalisation write them) are kept as 8 words in
 * an open-addressing table of typed arrays at most 3/4 full, ~70 bytes a document instead of ~140 for the
 * 64-character string and its Map entry (issue 23, memory); any other string in a Map. Answers
 * exactly as one Map would (test/corpus/fast-paths.test.ts).
 */
export class ExactIndex {
  private readonly others = new Map<string, string>()
  private words = new Uint32Array(8 * 1024)
  /** Per slot: the owner's index in `owners`, EMPTY or DELETED. */
  private slots = new Int32Array(1024).fill(EMPTY)
  private readonly owners: Array<string> = []
  private used = 0
  private live = 0
  private readonly key = new Uint32Array(8)

  add(hash: string, docId: string) {
    if (!this.parse(hash)) {
      if (!this.others.has(hash)) this.others.set(hash, docId)
      return
    }
    if (this.slotOf() >= 0) return
    if ((this.used + 1) * 4 > this.slots.length * 3) this.grow()
    const mask = this.slots.length - 1
    let i = this.home() & mask
    while (this.slots[i]! >= 0) i = (i + 1) & mask
    if (this.slots[i] === EMPTY) this.used++
    this.words.set(this.key, i * 8)
    this.slots[i] = this.owners.length
    this.owners.push(docId)
    this.live++
  }
  ownerOf(hash: string): string | undefined {
    if (!this.parse(hash)) return this.others.get(hash)
    const i = this.slotOf()
    return i < 0 ? undefined : this.owners[this.slots[i]!]
  }
  forget(docId: string, hash: string) {
    if (!this.parse(hash)) {
      if (this.others.get(hash) === docId) this.others.delete(hash)
      return
    }
    const i = this.slotOf()
    if (i >= 0 && this.owners[this.slots[i]!] === docId) {
      this.slots[i] = DELETED
      this.live--
    }
  }
  get size() {
    return this.live + this.others.size
  }

  /** Empties the index (a run that is over), its tables left to the next collection; returns their bytes. */
  release(): number {
    const bytes = this.words.byteLength + this.slots.byteLength
    this.others.clear()
    this.words = new Uint32Array(8 * 1024)
    this.slots = new Int32Array(1024).fill(EMPTY)
    this.owners.length = 0
    this.used = 0
    this.live = 0
    return bytes
  }

  /** Reads a 64-digit lower-case hex hash into `key`; false for any other string. */
  private parse(hash: string): boolean {
    if (hash.length !== 64) return false
    for (let w = 0; w < 8; w++) {
      let v = 0
      for (let j = w * 8; j < w * 8 + 8; j++) {
        const c = hash.charCodeAt(j)
        const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
        if (d < 0) return false
        v = (v << 4) | d
      }
      this.key[w] = v
    }
    return true
  }
  /** A sha256's words are uniform: its first word is the slot. */
  private home() {
    return this.key[0]!
  }
  /** The slot holding `key`, or -1. */
  private slotOf(): number {
    const mask = this.slots.length - 1
    const words = this.words
    const key = this.key
    for (let i = this.home() & mask; ; i = (i + 1) & mask) {
      const v = this.slots[i]!
      if (v === EMPTY) return -1
      if (v >= 0) {
        const at = i * 8
        let same = true
        for (let w = 0; w < 8 && same; w++) same = words[at + w] === key[w]
        if (same) return i
      }
    }
  }
  private grow() {
    const words = this.words
    const slots = this.slots
    // Tombstones are dropped on a rehash; the table only doubles when the live entries need it.
    const size = this.live * 2 > slots.length ? slots.length * 2 : slots.length
    this.words = new Uint32Array(size * 8)
    this.slots = new Int32Array(size).fill(EMPTY)
    this.used = 0
    const mask = size - 1
    for (let j = 0; j < slots.length; j++) {
      if (slots[j]! < 0) continue
      let i = words[j * 8]! & mask
      while (this.slots[i] !== EMPTY) i = (i + 1) & mask
      this.words.set(words.subarray(j * 8, j * 8 + 8), i * 8)
      this.slots[i] = slots[j]!
      this.used++
    }
  }
}

const EMPTY = -1
const DELETED = -2

/** Keeps the first document of each normalised content hash; later ones name the one they repeat. */
export const exactDedup = (index = new ExactIndex(), ledger?: DocumentLedger) =>
  corpusStep<CorpusDocument, CorpusDocument>("exact-dedup", (doc) => {
    const owner = index.ownerOf(doc.contentHash)
    if (owner !== undefined && owner !== doc.id) return Verdict.drop("exact duplicate", owner, { similarity: 1 })
    index.add(doc.contentHash, doc.id)
    return Verdict.keep(doc)
  }, ledger)
