/**
 * A byte-level BPE encoder for Hugging Face `tokenizer.json` files of the GPT-2 / Qwen family
 * (NFC normaliser, one regex Split pre-tokeniser, ByteLevel, BPE model). It exists because the
 * pure-JS `@huggingface/tokenizers` takes ~10 s to load Qwen3's vocabulary and encodes French
 * text at ~0.1 MB/s; this one loads in ~1 s and encodes at tens of MB/s with a per-word cache.
 * Ids are checked against the Python `tokenizers` library (test/fixtures/tokenizer/*.json).
 */

import { QWEN2_SPLIT_PATTERN, splitQwen2 } from "./pre-tokenize.ts"

interface AddedToken {
  readonly id: number
  readonly content: string
}

export interface ByteLevelBpeSpec {
  readonly vocab: Readonly<Record<string, number>>
  readonly merges: ReadonlyArray<string | readonly [string, string]>
  readonly pattern: string
  readonly nfc: boolean
  readonly added: ReadonlyArray<AddedToken>
}

/** GPT-2's map from bytes to printable code points, so every byte sequence is a string of "characters". */
const byteToUnicode = (): Array<string> => {
  const keep: Array<number> = []
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b)
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b)
  for (let b = 0xae; b <= 0xff; b++) keep.push(b)
  const table = new Array<string>(256)
  let extra = 0
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++)
  return table
}

/**
 * Translates the Rust `regex` pattern of tokenizer.json into a JavaScript one. The only construct
 * JS lacks is the scoped case-insensitive group `(?i:...)` around the English contractions;
 * Rust's simple case folding also maps `s` to `ſ` (U+017F) and `k` to the Kelvin sign.
 */
export const translatePattern = (pattern: string): RegExp => {
  const js = pattern.replace(/\(\?i:([^)]*)\)/g, (_m, body: string) =>
    `(?:${body.split("|").map((alt) => [...alt].map((ch) => caseClass(ch)).join("")).join("|")})`)
  return new RegExp(js, "gu")
}

const caseClass = (ch: string): string => {
  const lower = ch.toLowerCase()
  const upper = ch.toUpperCase()
  if (lower === upper) return ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const extra = lower === "s" ? "\u017f" : lower === "k" ? "\u212a" : ""
  return `[${lower}${upper}${extra}]`
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export class ByteLevelBpe {
  private vocabMap: Map<string, number> | undefined
  private ranksMap: Map<string, number> | undefined
  private readonly idToToken: Array<string>
  private readonly bytesToChars = byteToUnicode()
  private readonly charsToByte = new Map<string, number>()
  private readonly split: RegExp
  private readonly fastSplit: boolean
  private readonly addedSplit: RegExp | undefined
  private readonly addedIds: Map<string, number>
  private readonly cache = new Map<string, ReadonlyArray<number>>()
  /** The pre-tokenizer's pieces → ids, looked up by a range of the text (the fast split's route). */
  private readonly pieces: PieceCache
  private readonly encoder = new TextEncoder()
  private readonly nfc: boolean
  /**
   * Merges by id: (id(a) · 2^18 + id(b)) → rank · 2^18 + id(a + b), so bpe() works on numbers and
   * never builds a pair's string (~20% of encoding). Undefined when a merge's parts or result are
   * not in the vocabulary (not a well-formed byte-level BPE): bpe() then takes the string route.
   */
  private readonly pairs: PairTable | undefined
  /** Each byte's token id (-1: none). */
  private byteIds: Int32Array | undefined
  /** Built from tables: the model's tokens (added ones not overlaid) and the merges as id triples, from which the string maps are made on demand. */
  private readonly modelTokens: ReadonlyArray<string> | undefined
  private readonly mergeIds: Int32Array | undefined

  /** `pieceCache`: how many pieces' ids are kept before the cache starts over (tests make it small). */
  constructor(spec: ByteLevelBpeSpec | ByteLevelBpeTables, pieceCache = 200_000) {
    this.pieces = new PieceCache(pieceCache)
    if ("tokens" in spec) {
      // The compact form (compactTables, cached on disk): tokens in id order and merges as id
      // triples; the maps by string are only built if something asks for them.
      this.modelTokens = spec.tokens
      this.idToToken = spec.tokens.slice()
      this.mergeIds = spec.merges
      this.pairs = new PairTable(spec.merges.length / 3)
      for (let i = 0, r = 0; i < spec.merges.length; i += 3, r++) this.pairs.set(spec.merges[i]!, spec.merges[i + 1]!, r * PAIR + spec.merges[i + 2]!)
    } else {
      this.vocabMap = new Map(Object.entries(spec.vocab))
      this.ranksMap = new Map()
      spec.merges.forEach((m, i) => this.ranksMap!.set(mergeKey(m), i))
      this.idToToken = []
      for (const [token, id] of this.vocabMap) this.idToToken[id] = token
      this.pairs = pairTable(this.vocabMap, this.ranksMap)
    }
    for (const t of spec.added) this.idToToken[t.id] = t.content
    this.bytesToChars.forEach((ch, b) => this.charsToByte.set(ch, b))
    this.split = translatePattern(spec.pattern)
    this.fastSplit = spec.pattern === QWEN2_SPLIT_PATTERN
    this.addedIds = new Map(spec.added.map((t) => [t.content, t.id]))
    // Longest first, so a token that is a prefix of another never wins.
    const contents = [...this.addedIds.keys()].sort((a, b) => b.length - a.length)
    this.addedSplit = contents.length > 0 ? new RegExp(contents.map(escapeRegExp).join("|"), "g") : undefined
    this.nfc = spec.nfc
  }

  /** token → id (the model's vocabulary, added tokens not included). */
  private get vocab(): Map<string, number> {
    if (this.vocabMap === undefined) {
      const vocab = new Map<string, number>()
      this.modelTokens!.forEach((t, id) => vocab.set(t, id))
      this.vocabMap = vocab
    }
    return this.vocabMap
  }

  /** "a b" → rank. */
  private get ranks(): Map<string, number> {
    if (this.ranksMap === undefined) {
      const ranks = new Map<string, number>()
      const m = this.mergeIds!
      const t = this.modelTokens!
      for (let i = 0, r = 0; i < m.length; i += 3, r++) ranks.set(`${t[m[i]!]} ${t[m[i + 1]!]}`, r)
      this.ranksMap = ranks
    }
    return this.ranksMap
  }

  get size(): number {
    return this.idToToken.length
  }

  /** The ids of the text being encoded, gathered in a typed array kept from call to call. */
  private readonly out = new IdBuffer()

  encode(text: string): Array<number> {
    const out = this.out
    out.length = 0
    this.encodeInto(text, out)
    return out.toArray()
  }

  private encodeInto(text: string, out: IdBuffer) {
    if (!this.addedSplit) {
      this.encodeSegment(text, out)
      return
    }
    // Added tokens are matched on the raw text (normalized: false), before the normaliser runs.
    let last = 0
    this.addedSplit.lastIndex = 0
    for (let m = this.addedSplit.exec(text); m !== null; m = this.addedSplit.exec(text)) {
      if (m.index > last) this.encodeSegment(text.slice(last, m.index), out)
      out.push(this.addedIds.get(m[0])!)
      last = m.index + m[0].length
    }
    if (last < text.length) this.encodeSegment(text.slice(last), out)
  }

  decode(ids: ReadonlyArray<number>): string {
    const bytes: Array<number> = []
    let text = ""
    const flush = () => {
      if (bytes.length > 0) text += Buffer.from(bytes).toString("utf8")
      bytes.length = 0
    }
    for (const id of ids) {
      const token = this.idToToken[id]
      if (token === undefined) continue
      if (this.addedIds.has(token)) {
        flush()
        text += token
        continue
      }
      for (const ch of token) {
        const b = this.charsToByte.get(ch)
        if (b !== undefined) bytes.push(b)
      }
    }
    flush()
    return text
  }

  private encodeSegment(segment: string, out: IdBuffer) {
    const text = this.nfc ? segment.normalize("NFC") : segment
    if (this.fastSplit) {
      // A piece seen before is found by its units in the text: no string is cut for it.
      const pieces = this.pieces
      splitQwen2(text, (start, end) => {
        let at = pieces.find(text, start, end)
        if (at < 0) {
          const piece = text.slice(start, end)
          at = pieces.add(piece, this.bpe(piece))
        }
        out.append(pieces.ids, at + 1, pieces.ids[at]!)
      })
      return
    }
    this.split.lastIndex = 0
    for (let m = this.split.exec(text); m !== null; m = this.split.exec(text)) {
      const word = m[0]
      if (word.length === 0) {
        this.split.lastIndex++
        continue
      }
      this.encodeWord(word, out)
    }
  }

  private encodeWord(word: string, out: IdBuffer) {
    let ids = this.cache.get(word)
    if (ids === undefined) {
      ids = this.bpe(word)
      // Bounded: a corpus has a long tail of words; start over rather than grow without end.
      if (this.cache.size > 200_000) this.cache.clear()
      this.cache.set(word, ids)
    }
    for (const id of ids) out.push(id)
  }

  private bpe(word: string): ReadonlyArray<number> {
    const pairs = this.pairs
    if (pairs === undefined) return this.bpeStrings(word)
    const bytes = this.encoder.encode(word)
    let byteIds = this.byteIds
    if (byteIds === undefined) {
      byteIds = this.byteIds = new Int32Array(256)
      if (this.vocabMap === undefined && this.modelTokens !== undefined) {
        // From the one-unit tokens, without building the 151k-entry vocabulary map for 256
        // answers (a later id of the same token wins, as in that map).
        byteIds.fill(-1)
        const tokens = this.modelTokens
        for (let id = 0; id < tokens.length; id++) {
          const t = tokens[id]!
          if (t.length !== 1) continue
          const b = this.charsToByte.get(t)
          if (b !== undefined) byteIds[b] = id
        }
      } else for (let b = 0; b < 256; b++) byteIds[b] = this.vocab.get(this.bytesToChars[b]!) ?? -1
    }
    let ids: Array<number> = new Array(bytes.length)
    for (let i = 0; i < bytes.length; i++) {
      const id = byteIds[bytes[i]!]!
      // A byte without a token: the string route names it in its error.
      if (id < 0) return this.bpeStrings(word)
      ids[i] = id
    }
    // As bpeStrings: the lowest-ranked adjacent pair, every occurrence merged left to right.
    // Ordering by rank · 2^18 + id is ordering by rank (ranks are distinct).
    while (ids.length > 1) {
      let best = Infinity
      let at = -1
      for (let i = 0; i < ids.length - 1; i++) {
        const v = pairs.get(ids[i]!, ids[i + 1]!)
        if (v >= 0 && v < best) {
          best = v
          at = i
        }
      }
      if (at < 0) break
      const merged = best % PAIR
      const a = ids[at]!
      const b = ids[at + 1]!
      const next: Array<number> = []
      for (let i = 0; i < ids.length; i++) {
        if (i < ids.length - 1 && ids[i] === a && ids[i + 1] === b) {
          next.push(merged)
          i++
        } else next.push(ids[i]!)
      }
      ids = next
    }
    return ids
  }

  /** The first BPE: symbols as strings, pairs looked up as "a b" (where pairs cannot be built). */
  private bpeStrings(word: string): ReadonlyArray<number> {
    const bytes = this.encoder.encode(word)
    let symbols: Array<string> = Array.from(bytes, (b) => this.bytesToChars[b]!)
    const whole = symbols.join("")
    const direct = this.vocab.get(whole)
    if (direct !== undefined && symbols.length === 1) return [direct]
    while (symbols.length > 1) {
      let best = Infinity
      let at = -1
      for (let i = 0; i < symbols.length - 1; i++) {
        const r = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`)
        if (r !== undefined && r < best) {
          best = r
          at = i
        }
      }
      if (at < 0) break
      // Merge every occurrence of the best pair, left to right, as the reference does.
      const a = symbols[at]!
      const b = symbols[at + 1]!
      const merged: Array<string> = []
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b)
          i++
        } else merged.push(symbols[i]!)
      }
      symbols = merged
    }
    return symbols.map((s) => {
      const id = this.vocab.get(s)
      if (id === undefined) throw new Error(`byte-level BPE: no id for symbol ${JSON.stringify(s)} of ${JSON.stringify(word)}`)
      return id
    })
  }
}

const mergeKey = (m: string | readonly [string, string]): string => {
  const [a, b] = typeof m === "string" ? splitMerge(m) : m
  return `${a} ${b}`
}

/**
 * A byte-level BPE as plain lists: tokens in id order and merges as id triples (a, b, a + b; their
 * rank is their position). Loading these is several times cheaper than parsing tokenizer.json (a
 * 151k-key vocabulary object): tokenizer.ts caches them on disk for the corpus chain's threads.
 */
export interface ByteLevelBpeTables {
  readonly tokens: ReadonlyArray<string>
  readonly merges: Int32Array
  readonly pattern: string
  readonly nfc: boolean
  readonly added: ReadonlyArray<AddedToken>
}

/**
 * The spec as tables; undefined where the vocabulary has gaps in its ids, a token holds a newline
 * (the cache's separator), or a merge's parts or result are not tokens.
 */
export const compactTables = (spec: ByteLevelBpeSpec): ByteLevelBpeTables | undefined => {
  const tokens: Array<string> = []
  for (const [token, id] of Object.entries(spec.vocab)) tokens[id] = token
  if (tokens.length >= PAIR) return undefined
  for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined || tokens[i]!.includes("\n")) return undefined
  // One rank per pair as the string map keeps it (a pair listed twice: its last rank).
  const ranks = new Map<string, number>()
  spec.merges.forEach((m, i) => ranks.set(mergeKey(m), i))
  if (ranks.size !== spec.merges.length) return undefined
  const merges = new Int32Array(spec.merges.length * 3)
  let i = 0
  for (const m of spec.merges) {
    const [a, b] = typeof m === "string" ? splitMerge(m) : m
    const ia = spec.vocab[a]
    const ib = spec.vocab[b]
    const im = spec.vocab[a + b]
    if (typeof ia !== "number" || typeof ib !== "number" || typeof im !== "number") return undefined
    merges[i++] = ia
    merges[i++] = ib
    merges[i++] = im
  }
  return { tokens, merges, pattern: spec.pattern, nfc: spec.nfc, added: spec.added }
}

/**
 * A text's ids as they are found, in a typed array that grows and is kept from text to text;
 * toArray() makes the one array encode returns, at its length. Pushing into that array grew it
 * ~8 times a document: most of what tokenization allocated (issue 23).
 */
class IdBuffer {
  ids = new Int32Array(4096)
  length = 0
  push(id: number) {
    if (this.length === this.ids.length) this.grow(1)
    this.ids[this.length++] = id
  }
  /** Appends `count` ids of `from` from `start`. */
  append(from: Int32Array, start: number, count: number) {
    if (this.length + count > this.ids.length) this.grow(count)
    const ids = this.ids
    let n = this.length
    for (let i = start, last = start + count; i < last; i++) ids[n++] = from[i]!
    this.length = n
  }
  toArray(): Array<number> {
    const out = new Array<number>(this.length)
    for (let i = 0; i < this.length; i++) out[i] = this.ids[i]!
    return out
  }
  private grow(more: number) {
    const bigger = new Int32Array(Math.max(this.ids.length * 2, this.length + more))
    bigger.set(this.ids.subarray(0, this.length))
    this.ids = bigger
  }
}

/**
 * Pieces of text → their ids, in an open-addressing table keyed by the piece's UTF-16 units, so a
 * piece is looked up by a range of the text it lies in (encodeWord's Map<string> needed the piece
 * cut out as a string, then hashed: 6% of the corpus chain, issue 23). Each entry's ids are in
 * one pool, preceded by their count. When `capacity` pieces are kept it starts over, as the Map
 * did: the ids of a piece do not depend on what is cached.
 */
export class PieceCache {
  private hashes = new Int32Array(1 << 12)
  /** Per slot: the entry + 1 (0: empty). Grown (rehashed) at half full, up to twice the capacity. */
  private slots = new Int32Array(1 << 12)
  private mask = (1 << 12) - 1
  private readonly texts: Array<string> = []
  /** Per entry: where its count and ids start in `ids`. */
  private starts = new Int32Array(1 << 11)
  ids = new Int32Array(1 << 14)
  private used = 0
  private lastHash = 0
  private lastSlot = 0

  constructor(readonly capacity: number) {}

  /** Twice the slots, the entries put back by their kept hashes. */
  private grow() {
    const { hashes, slots } = this
    const size = slots.length * 2
    this.hashes = new Int32Array(size)
    this.slots = new Int32Array(size)
    this.mask = size - 1
    for (let s = 0; s < slots.length; s++) {
      if (slots[s] === 0) continue
      let t = hashes[s]! & this.mask
      while (this.slots[t] !== 0) t = (t + 1) & this.mask
      this.slots[t] = slots[s]!
      this.hashes[t] = hashes[s]!
    }
    const starts = new Int32Array(this.starts.length * 2)
    starts.set(this.starts)
    this.starts = starts
  }

  /** Where the ids of text[start, end) are in `ids` (its count, then the ids), or -1 (then `add` it, with no other look-up between). */
  find(text: string, start: number, end: number): number {
    let h = 0x811c9dc5
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
    h ^= h >>> 15
    const { hashes, slots, mask, texts } = this
    const length = end - start
    let slot = h & mask
    while (true) {
      const e = slots[slot]! - 1
      if (e < 0) break
      if (hashes[slot] === h) {
        const piece = texts[e]!
        if (piece.length === length) {
          let i = 0
          while (i < length && piece.charCodeAt(i) === text.charCodeAt(start + i)) i++
          if (i === length) return this.starts[e]!
        }
      }
      slot = (slot + 1) & mask
    }
    this.lastHash = h
    this.lastSlot = slot
    return -1
  }

  /** Keeps the piece just not found and its ids; returns where they are in `ids`. */
  add(piece: string, ids: ReadonlyArray<number>): number {
    if (this.texts.length >= this.capacity) {
      this.slots.fill(0)
      this.texts.length = 0
      this.used = 0
      this.find(piece, 0, piece.length)
    } else if (this.texts.length >= this.slots.length / 2) {
      this.grow()
      this.find(piece, 0, piece.length)
    }
    if (this.used + ids.length + 1 > this.ids.length) {
      const bigger = new Int32Array(Math.max(this.ids.length * 2, this.used + ids.length + 1))
      bigger.set(this.ids.subarray(0, this.used))
      this.ids = bigger
    }
    const at = this.used
    this.ids[at] = ids.length
    for (let i = 0; i < ids.length; i++) this.ids[at + 1 + i] = ids[i]!
    this.used += ids.length + 1
    const e = this.texts.length
    this.texts.push(piece)
    this.starts[e] = at
    this.hashes[this.lastSlot] = this.lastHash
    this.slots[this.lastSlot] = e + 1
    return at
  }
}

/** Ids are below 2^18 (Qwen3: 151,669): a pair of ids, or a rank and an id, fit a safe integer. */
const PAIR = 1 << 18

/**
 * Pair of ids (a, b) → rank · 2^18 + merged id, in one open-addressing table. A Map<number> boxes
 * keys past 2^31 (a pair's key a · 2^18 + b reaches 2^36): its 151k entries took ~45 ms to build
 * at each tokenizer load, and bpe() looks up every adjacent pair of every new word (issue 23).
 * A later set of the same pair replaces the earlier, as Map.set did.
 */
export class PairTable {
  private readonly keys: Float64Array
  private readonly values: Float64Array
  private readonly mask: number
  constructor(expected: number) {
    let size = 16
    while (size < expected * 2) size *= 2
    this.keys = new Float64Array(size).fill(-1)
    this.values = new Float64Array(size)
    this.mask = size - 1
  }
  set(a: number, b: number, value: number): void {
    const key = a * PAIR + b
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask
    while (this.keys[i] !== -1 && this.keys[i] !== key) i = (i + 1) & this.mask
    this.keys[i] = key
    this.values[i] = value
  }
  /** The pair's value, or -1 when it is not a merge. */
  get(a: number, b: number): number {
    const key = a * PAIR + b
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask
    while (true) {
      const k = this.keys[i]!
      if (k === key) return this.values[i]!
      if (k === -1) return -1
      i = (i + 1) & this.mask
    }
  }
}

const pairTable = (vocab: ReadonlyMap<string, number>, ranks: ReadonlyMap<string, number>): PairTable | undefined => {
  if (vocab.size >= PAIR || ranks.size >= PAIR) return undefined
  const pairs = new PairTable(ranks.size)
  for (const [key, rank] of ranks) {
    const [a, b] = splitMerge(key)
    const ia = vocab.get(a)
    const ib = vocab.get(b)
    const merged = vocab.get(a + b)
    if (ia === undefined || ib === undefined || merged === undefined || ia >= PAIR || ib >= PAIR || merged >= PAIR) return undefined
    pairs.set(ia, ib, rank * PAIR + merged)
  }
  return pairs
}

const splitMerge = (m: string): [string, string] => {
  const i = m.indexOf(" ", 1)
  return [m.slice(0, i), m.slice(i + 1)]
}

/** Whether a parsed tokenizer.json has the shape ByteLevelBpe implements exactly. */
export const byteLevelBpeSpecOf = (json: any): ByteLevelBpeSpec | undefined => {
  const model = json?.model
  if (model?.type !== "BPE" || model.dropout || model.continuing_subword_prefix || model.end_of_word_suffix || model.byte_fallback) return undefined
  const norm = json.normalizer
  if (norm !== null && norm?.type !== "NFC") return undefined
  const pre = json.pre_tokenizer
  const steps = pre?.type === "Sequence" ? pre.pretokenizers : [pre]
  if (steps.length !== 2) return undefined
  const [split, byteLevel] = steps
  if (split?.type !== "Split" || split.behavior !== "Isolated" || split.invert || typeof split.pattern?.Regex !== "string") return undefined
  if (byteLevel?.type !== "ByteLevel" || byteLevel.add_prefix_space || byteLevel.use_regex) return undefined
  if (json.decoder?.type !== "ByteLevel") return undefined
  return {
    vocab: model.vocab,
    merges: model.merges,
    pattern: split.pattern.Regex,
    nfc: norm?.type === "NFC",
    added: (json.added_tokens ?? []).map((t: any) => ({ id: t.id, content: t.content }))
  }
}
