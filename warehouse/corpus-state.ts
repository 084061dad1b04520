import { Effect } from "effect"
import { sqlFile, Warehouse } from "./warehouse.ts"

/** One document's row of `corpus_documents`, as a run reads or writes it. */
export interface CorpusDocumentRow {
  readonly docId: string
  readonly contentHash: string
  readonly source: string
  readonly status: string
  readonly reason?: string | undefined
  readonly duplicateOf?: string | undefined
  readonly lang?: string | undefined
  readonly langScore?: number | undefined
  readonly similarity?: number | undefined
  readonly tokens?: number | undefined
  /** Base-36 LSH band keys. */
  readonly bands?: ReadonlyArray<string> | undefined
}

export interface KnownRow {
  readonly docId: string
  readonly contentHash: string
  readonly status: string
  readonly bands: ReadonlyArray<string>
}

/** The corpus pipeline's memory across runs, in the warehouse's `corpus_documents` table. */
export const CorpusState = {
  /** Every document an earlier run saw and did not retire. */
  load: Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{ doc_id: string; content_hash: string; status: string; lsh_bands: string | null }>(
      "SELECT doc_id, content_hash, status, lsh_bands FROM corpus_documents WHERE NOT retired"
    )
    return rows.map((r): KnownRow => ({ docId: r.doc_id, contentHash: r.content_hash, status: r.status, bands: r.lsh_bands ? r.lsh_bands.split(",") : [] }))
  }),

  /**
   * Merges a run's decisions and retires what it did not see, in one transaction. Rows are staged
   * in slices: a whole run's rows at once (11 values a document, a million documents for 1 GB) were
   * the run's peak of memory.
   */
  save: (runId: string, decisions: Iterable<CorpusDocumentRow>, seen: Iterable<string>) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec(sqlFile("corpus_staging"))
      for (const slice of slices(decisions)) {
        yield* w.append("corpus_staging", slice.map((d) => [
          d.docId, d.contentHash, d.source, d.status, d.reason ?? null, d.duplicateOf ?? null, d.lang ?? null, d.langScore ?? null,
          d.tokens ?? null, d.bands ? d.bands.join(",") : null, d.similarity ?? null
        ]))
      }
      for (const slice of slices(seen)) yield* w.append("corpus_seen", slice.map((id) => [id]))
      yield* w.transaction(Effect.gen(function*() {
        yield* w.exec(sqlFile("corpus_documents"), { run_id: runId })
        yield* w.exec(sqlFile("corpus_retired"), { run_id: runId })
      }))
      yield* w.exec("DROP TABLE IF EXISTS corpus_staging; DROP TABLE IF EXISTS corpus_seen")
    })
}

const SLICE = 8192

function* slices<A>(items: Iterable<A>): Generator<Array<A>> {
  let slice: Array<A> = []
  for (const item of items) {
    slice.push(item)
    if (slice.length === SLICE) {
      yield slice
      slice = []
    }
  }
  if (slice.length > 0) yield slice
}
