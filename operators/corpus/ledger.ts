import { IdTally } from "./id-tally.ts"
import type { CleanedDocument, CorpusDocument, CorpusLedgerEntry } from "../../schemas/corpus-document.ts"

/** Facts about a dropped document that the ledger keeps with its decision. */
export interface DropFacts {
  readonly lang?: string
  readonly langScore?: number
  /** Estimated Jaccard similarity to the document it duplicates. */
  readonly similarity?: number
}

/** The fate of one document in one run, as incremental reprocessing remembers it. */
export interface Decision {
  readonly docId: string
  readonly contentHash: string
  readonly source: string
  readonly status: "kept" | "dropped" | "duplicate" | "rejected"
  readonly reason?: string
  readonly duplicateOf?: string
  readonly lang?: string
  readonly langScore?: number
  /** Duplicates: estimated Jaccard similarity to duplicateOf (1 for exact duplicates). */
  readonly similarity?: number
  /** LSH band keys of a kept document, so later runs can find its near-duplicates. */
  readonly bands?: ReadonlyArray<string>
  readonly tokens?: number
}

/**
 * Where a ledger puts each finished decision. `order` is the position of the document's first
 * decision in the run: a kept document's decision is finished only when its token count is noted,
 * after later documents' drops, and a document id repeated in the input is decided twice. Readers
 * take, per document, the last decision put, at the first order it was given (a Map's `set`).
 */
export interface DecisionSink {
  put(order: number, decision: Decision): void
  /** Every decision put, one per document, by order (tests and small runs). */
  read(): Iterable<Decision>
}

/** Decisions kept in this process's memory: the default, for tests and runs that save no state. */
export class MemoryDecisions implements DecisionSink {
  private readonly byDoc = new Map<string, { order: number; decision: Decision }>()
  put(order: number, decision: Decision) {
    const before = this.byDoc.get(decision.docId)
    this.byDoc.set(decision.docId, { order: before?.order ?? order, decision })
  }
  read(): Iterable<Decision> {
    return [...this.byDoc.values()].sort((a, b) => a.order - b.order).map((e) => e.decision)
  }
}

/**
 * Collects what happened to every document the run looked at: the ids it saw (so disappeared
 * ones can be retired), the ones it processed, and a decision per processed document. Operators
 * write into it; the pipeline persists it after the run. Knows nothing of the warehouse.
 *
 * Decisions leave for the sink as soon as they are final (a drop at once, a kept document when its
 * token count is noted), so with a file sink the ledger holds only the documents in flight: the
 * per-document objects it used to keep to the end of the run were most of a 1 GB run's heap
 * (issue 23, memory). `seen` and `processed` count ids, and keep the ones asked about (IdTally).
 */
export class DocumentLedger {
  readonly seen: IdTally
  readonly processed: IdTally
  /** Kept documents waiting for their token count, with their first order. */
  private readonly pending = new Map<string, { order: number; decision: Decision; facts: Facts }>()
  /** Facts noted before the document's decision (bands by near-dedup, ahead of tokenize's keep). */
  private readonly early = new Map<string, Facts>()
  private next = 0

  /**
   * `watch`: the ids `seen` and `processed` keep (IdTally), the others only counted; by default
   * all are kept.
   */
  constructor(private readonly sink: DecisionSink = new MemoryDecisions(), watch?: (docId: string) => boolean) {
    this.seen = new IdTally(watch)
    this.processed = new IdTally(watch)
  }

  /**
   * What changed since the last drain, per document, once journaling is on (a Kafka run: each
   * stage's worker sends its entries to the decisions topic, see CorpusLedgerEntry). Off, nothing
   * is kept: an in-process run shares this ledger and needs no journal.
   */
  private journal: Map<string, { -readonly [K in keyof CorpusLedgerEntry]: CorpusLedgerEntry[K] }> | undefined

  /** Kept documents' cleaned lines, in the order the tap saw them (journaling only). */
  private journalDocuments: Array<CleanedDocument> = []

  /** Starts keeping a journal of changes (drain takes them). */
  startJournal() {
    this.journal ??= new Map()
  }

  get journaling() {
    return this.journal !== undefined
  }

  /**
   * When journaling, takes the cleaned-documents file's lines into the journal (true); the process
   * that closes the run writes them (DocumentsWriter.tap's `divert`). Otherwise false.
   */
  divertDocuments(lines: ReadonlyArray<CleanedDocument>): boolean {
    if (!this.journal) return false
    this.journalDocuments.push(...lines)
    return true
  }

  /** The changes since the last drain, one entry a document, then the documents' lines, and forgets them. */
  drainJournal(): Array<CorpusLedgerEntry> {
    if (!this.journal) return []
    const out: Array<CorpusLedgerEntry> = [...this.journal.values(), ...this.journalDocuments.map((document) => ({ docId: document.id, document }))]
    this.journal.clear()
    this.journalDocuments = []
    return out
  }

  /** Applies another ledger's entry (its worker's decisions) to this one; idempotent, not journaled. */
  absorb(entry: CorpusLedgerEntry) {
    if (entry.seen) this.seen.add(entry.docId)
    if (entry.processed) this.processed.add(entry.docId)
    if (entry.decision) this.decide({ docId: entry.docId, ...entry.decision })
    if (entry.bands !== undefined || entry.tokens !== undefined) {
      this.noteFacts(entry.docId, (f) => {
        if (entry.bands !== undefined) f.bands = entry.bands
        if (entry.tokens !== undefined) f.tokens = entry.tokens
      })
    }
  }

  private journaled(docId: string) {
    if (!this.journal) return undefined
    let e = this.journal.get(docId)
    if (!e) this.journal.set(docId, e = { docId })
    return e
  }

  private journalDecision(d: Decision) {
    const e = this.journaled(d.docId)
    if (!e) return
    const { docId: _id, bands: _b, tokens: _t, ...decision } = d
    e.decision = decision
  }

  see(docId: string) {
    this.seen.add(docId)
    const e = this.journaled(docId)
    if (e) e.seen = true
  }
  process(docId: string) {
    this.processed.add(docId)
    const e = this.journaled(docId)
    if (e) e.processed = true
  }
  drop(doc: CorpusDocument, reason: string, duplicateOf?: string, facts: DropFacts = {}) {
    this.record({
      docId: doc.id,
      contentHash: doc.contentHash,
      source: doc.source,
      status: duplicateOf === undefined ? "dropped" : "duplicate",
      reason,
      ...(duplicateOf === undefined ? {} : { duplicateOf }),
      ...langOf(doc),
      ...langOf(facts),
      ...(facts.similarity === undefined ? {} : { similarity: facts.similarity })
    })
  }
  keep(doc: CorpusDocument) {
    this.record({ docId: doc.id, contentHash: doc.contentHash, source: doc.source, status: "kept", ...langOf(doc) })
  }
  /** A kept document's LSH band keys (safe integers), written out as base-36 strings. */
  noteBands(docId: string, keys: ReadonlyArray<number>) {
    this.noteFacts(docId, (f) => {
      f.bandKeys = keys
    })
    const e = this.journaled(docId)
    if (e) e.bands = keys.map(base36)
  }
  note(docId: string, fact: { bands?: ReadonlyArray<string>; tokens?: number }) {
    this.noteFacts(docId, (f) => {
      if (fact.bands !== undefined) f.bands = fact.bands
      if (fact.tokens !== undefined) f.tokens = fact.tokens
    })
    const e = this.journaled(docId)
    if (e) {
      if (fact.bands !== undefined) e.bands = fact.bands
      if (fact.tokens !== undefined) e.tokens = fact.tokens
    }
  }
  private record(d: Decision) {
    this.decide(d)
    this.journalDecision(d)
  }

  /** A decision taken: a kept one waits for its token count, any other goes to the sink. */
  private decide(d: Decision) {
    const waiting = this.pending.get(d.docId)
    const order = waiting?.order ?? this.next++
    if (d.status === "kept") {
      const facts = waiting?.facts ?? this.early.get(d.docId) ?? new Facts()
      this.early.delete(d.docId)
      this.pending.set(d.docId, { order, decision: d, facts })
      if (facts.tokens !== undefined) this.finish(d.docId)
      return
    }
    if (waiting !== undefined) this.pending.delete(d.docId)
    this.sink.put(order, d)
  }

  private noteFacts(docId: string, set: (f: Facts) => void) {
    const waiting = this.pending.get(docId)
    if (waiting !== undefined) {
      set(waiting.facts)
      if (waiting.facts.tokens !== undefined) this.finish(docId)
      return
    }
    let f = this.early.get(docId)
    if (f === undefined) this.early.set(docId, (f = new Facts()))
    set(f)
  }

  private finish(docId: string) {
    const p = this.pending.get(docId)!
    this.pending.delete(docId)
    this.sink.put(p.order, completed(p.decision, p.facts))
  }

  /**
   * Puts the kept documents still waiting for a token count (the run is over: none will come),
   * so that the sink holds every decision; later facts for them would be lost.
   */
  flush() {
    for (const docId of [...this.pending.keys()]) this.finish(docId)
  }

  /**
   * Every decision, kept documents completed with their bands and token counts, in order. Puts the
   * waiting kept documents first (flush): read it when the run is over.
   */
  all(): ReadonlyArray<Decision> {
    return [...this.each()]
  }
  /** all(), one decision at a time. */
  *each(): Generator<Decision> {
    this.flush()
    yield* this.sink.read()
  }
  decisionOf(docId: string): Decision | undefined {
    const p = this.pending.get(docId)
    if (p !== undefined) return completed(p.decision, p.facts)
    let found: Decision | undefined
    for (const d of this.sink.read()) if (d.docId === docId) found = d
    return found
  }
}

const completed = (d: Decision, f: Facts): Decision => {
  const out: { -readonly [K in keyof Decision]: Decision[K] } = { ...d }
  if (f.tokens !== undefined) out.tokens = f.tokens
  if (f.bands !== undefined) out.bands = f.bands
  else if (f.bandKeys !== undefined) out.bands = f.bandKeys.map(base36)
  return out
}

/**
 * A kept document's facts, one fixed shape for all: objects built by spreading each other
 * (`{ ...facts, ...fact }`) got a hidden class of their own each, ~150 bytes a document of V8
 * maps and descriptor arrays (84,238 of them on the 100 MB set; issue 23, memory).
 */
class Facts {
  bands: ReadonlyArray<string> | undefined = undefined
  bandKeys: ReadonlyArray<number> | undefined = undefined
  tokens: number | undefined = undefined
}

/** Each base-36 digit's character code. */
const DIGIT_CODES = Array.from("0123456789abcdefghijklmnopqrstuvwxyz", (c) => c.charCodeAt(0))
/** A safe integer has at most 11 base-36 digits. */
const digits = new Array<number>(11)
/**
 * n.toString(36) for a non-negative safe integer, ~8x faster than V8's radix conversion of a
 * double. The digits are made into one string at the end: prepending them one at a time made a
 * string per digit (14 band keys a kept document: 4% of the 10 MB run's allocations).
 */
export const base36 = (n: number): string => {
  if (n === 0) return "0"
  let at = digits.length
  while (n > 0) {
    const q = Math.floor(n / 36)
    digits[--at] = DIGIT_CODES[n - q * 36]!
    n = q
  }
  switch (digits.length - at) {
    case 11: return String.fromCharCode(digits[0]!, digits[1]!, digits[2]!, digits[3]!, digits[4]!, digits[5]!, digits[6]!, digits[7]!, digits[8]!, digits[9]!, digits[10]!)
    case 10: return String.fromCharCode(digits[1]!, digits[2]!, digits[3]!, digits[4]!, digits[5]!, digits[6]!, digits[7]!, digits[8]!, digits[9]!, digits[10]!)
    default: return String.fromCharCode(...digits.slice(at))
  }
}

const langOf = (doc: { readonly lang?: string | undefined; readonly langScore?: number | undefined }) => ({
  ...(doc.lang === undefined ? {} : { lang: doc.lang }),
  ...(doc.langScore === undefined ? {} : { langScore: doc.langScore })
})
