import { Effect } from "effect"
// The tokenizer door, not model/index.ts: a corpus run need not load tfjs and the GPU engines.
import { deferredTokenizer, type TextTokenizer } from "../model/tokenizer.ts"
import { acceptDocument } from "../operators/corpus/accept-document.ts"
import { type DocumentAnalysis, withAnalysis } from "../operators/corpus/analysis.ts"
import { ExactIndex, exactDedup } from "../operators/corpus/exact-dedup.ts"
import { type KnownDocument, skipUnchanged } from "../operators/corpus/incremental.ts"
import { LanguageIdentifier, languageFilter, loadTraining } from "../operators/corpus/language-id.ts"
import { type Decision, type DecisionSink, DocumentLedger } from "../operators/corpus/ledger.ts"
import { defaultMinHashConfig, LshIndex, MinHasher } from "../operators/corpus/minhash.ts"
import { nearDedup } from "../operators/corpus/near-dedup.ts"
import { normalise } from "../operators/corpus/normalise.ts"
import { pack } from "../operators/corpus/pack.ts"
import { piiScrubber } from "../operators/corpus/pii.ts"
import { defaultQualityThresholds, qualityFilter } from "../operators/corpus/quality.ts"
import type { Tally } from "../operators/corpus/tally.ts"
import { tokenize } from "../operators/corpus/tokenize.ts"
import { collectGarbage } from "../lib/collect-garbage.ts"
import { chain, type Operator, OperatorFailure, Outcome } from "../operators/operator.ts"
import { corpusReadBytes, type CorpusRead, expectedDocuments, readCorpus } from "../operators/readers/corpus.ts"
import { ArrowShardWriter } from "../operators/writers/arrow-shards.ts"
import { type CorpusManifest, readManifest, updateManifest, writeManifest } from "../operators/writers/corpus-manifest.ts"
import { DocumentsWriter } from "../operators/writers/documents-jsonl.ts"
import type { CleanedDocument, CorpusDocument, CorpusKnownDocument, CorpusLedgerEntry, PackedSequence } from "../schemas/corpus-document.ts"
import { CorpusState, type CorpusDocumentRow, type KnownRow, type StagedDecisions } from "../warehouse/corpus-state.ts"
import { landDeadLetters } from "../warehouse/dead-letters.ts"
import { Runs } from "../warehouse/runs.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { checkSequenceLength } from "./corpus-config.ts"
import { type CorpusOptions, defaultCorpusOptions, tokenizerPath } from "./corpus-options.ts"
import type { CorpusWorkerInit, CorpusWorkerRequest } from "./corpus-worker.ts"
import { type Pipeline, sink, source, stage } from "./runtime/graph.ts"
import type { StageOffload } from "./runtime/offload.ts"
import { hasWarehouse } from "./services.ts"
export type { TallySnapshot } from "../operators/corpus/tally.ts"

export const CORPUS_TOPICS = ["corpus.raw", "corpus.clean", "corpus.packed", "corpus.decisions"] as const

/**
 * On Kafka every corpus topic has one partition: dedup keeps the first document of a cluster in
 * input order, so one worker of each stage owns the ordered stream (others of its group stand by
 * and take the partition over when it dies), exactly as `fleuve corpus` runs it on one partition.
 */
const CORPUS_PARTITIONS: Readonly<Record<string, number>> = Object.fromEntries(CORPUS_TOPICS.map((t) => [t, 1]))

export { type CorpusOptions, defaultCorpusOptions }
export { CorpusConfig, readCorpusConfig } from "./corpus-config.ts"

/** A built corpus run: the graph plus what it counts and remembers, for reports and tests. */
export interface CorpusRun {
  readonly runId: string
  readonly pipeline: Pipeline<Warehouse>
  readonly ledger: DocumentLedger
  readonly tallies: ReadonlyArray<Tally>
  readonly writer: ArrowShardWriter
  /** The kept, cleaned documents of the run: `<out>/<run id>-documents.jsonl.gz`. */
  readonly documents: DocumentsWriter
  /** Filled when the run closes: documents retired, the documents file and the manifest written. */
  readonly outcome: { retired: number; documentsFile: string | undefined; manifest: CorpusManifest | undefined }
  /** Ends the run's `runs` row as failed or interrupted when running the pipeline does not succeed. */
  readonly settle: <A, E, R>(run: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | Warehouse>
}

function* mapIterable<A, B>(items: Iterable<A>, f: (a: A) => B): Generator<B> {
  for (const a of items) yield f(a)
}

/** An operator that runs whichever operator `current()` names at each call (the entered run's). */
const delegate = <A, B, R>(name: string, current: () => Operator<A, B, R>): Operator<A, B, R> => ({
  name,
  process: (batch) => Effect.suspend(() => current().process(batch)),
  flush: () => Effect.suspend(() => current().flush?.() ?? Effect.succeed([]))
})

/** Reports each document an earlier run kept whose content changed (its old version), passing every document on. */
const changedDocuments = (known: ReadonlyMap<string, KnownDocument>, report: (row: CorpusKnownDocument) => unknown): Operator<CorpusDocument, CorpusDocument> => ({
  name: "note-changed",
  process: (batch) =>
    Effect.sync(() =>
      batch.map((e) => {
        const before = known.get(e.value.id)
        if (before && before.status === "kept" && before.contentHash !== e.value.contentHash) {
          report({ docId: e.value.id, contentHash: before.contentHash, status: "changed", bands: before.bands.map((b) => b.toString(36)) })
        }
        return Outcome.emit(e)
      })
    )
})

const fromRow = (r: CorpusDocumentRow): Decision => ({ ...r, status: r.status as Decision["status"] })

const toRow = (d: Decision): CorpusDocumentRow => ({
  docId: d.docId,
  contentHash: d.contentHash,
  source: d.source,
  status: d.status,
  reason: d.reason,
  duplicateOf: d.duplicateOf,
  lang: d.lang,
  langScore: d.langScore,
  similarity: d.similarity,
  tokens: d.tokens,
  bands: d.bands
})

/**
 * corpus.raw → [accept, normalise, skip-unchanged, language-id, pii, quality] → corpus.clean →
 * [exact-dedup, near-dedup, tokenize, pack] → corpus.packed → Arrow IPC shards.
 * State from earlier runs seeds the dedup indexes; the run's decisions are merged back at the end.
 */
export const buildCorpusRun = (options: CorpusOptions, tokenizer?: TextTokenizer) =>
  Effect.gen(function*() {
    // Checked before anything is loaded or allocated: 0 used to exhaust memory, -5 to throw a RangeError.
    const sequenceLength = yield* checkSequenceLength(options.sequenceLength ?? defaultCorpusOptions.sequenceLength)
    const runId = Runs.newId()
    const incremental = options.incremental ?? true
    const hasher = new MinHasher(defaultMinHashConfig)
    // Deferred: only the EOS id is read now; the vocabulary loads on the first document this thread
    // tokenizes itself, so with worker threads (which tokenize) the main thread never loads it.
    const tok = tokenizer ?? deferredTokenizer(tokenizerPath(options.tokenizer))
    const keepLanguages: ReadonlyArray<string> = options.languages ?? ["fr"]
    const minLanguageScore = options.minLanguageScore ?? 0.65
    if (tok.eosId === undefined) {
      return yield* new OperatorFailure({ operator: "pack", message: `${options.tokenizer}: the tokenizer defines no EOS token to separate packed documents` })
    }
    const eosId = tok.eosId
    const training = loadTraining()
    const identifier = new LanguageIdentifier(training)
    const documents = new DocumentsWriter(options.outDir, runId)
    let journaling = false

    // A Kafka stage's worker (`fleuve worker clean --pipeline corpus`) has no warehouse: it records
    // no run, and takes each run's earlier state from the records the run's job publishes after
    // its begin marker (Pipeline.runs.startState).
    const ownsWarehouse = yield* hasWarehouse
    // The run's own decisions go to a file beside the warehouse as they are taken, which the
    // state save merges: a run holds none of them (issue 23, memory). A run that saves no state
    // keeps them in memory (the ledger's default).
    const staged = incremental && ownsWarehouse ? yield* CorpusState.stage : undefined
    const stagedSink = (s: StagedDecisions): DecisionSink => ({
      put: (order, d) => s.put(order, toRow(d)),
      read: () => mapIterable(s.read(), fromRow)
    })
    // Such a run keeps the ids it saw or processed only where it is asked about them: the earlier
    // runs' documents (retiring the unseen ones) and the manifest's (superseding them); it counts the others.
    const listed = staged === undefined ? undefined : manifestDocuments(options.outDir)

    // Everything a run's stages learn (indexes, ledger, the packer's carry) lives in one state. In
    // process (the embedded runtime) the stages use this process's own; on Kafka every stage,
    // wherever it runs, enters a fresh one at each run's begin marker and loads the run's starting
    // state from the records after it (Pipeline.runs), so no run sees another's documents, and the
    // own state only closes the run (the ledger the decisions topic fills, the documents file).
    const makeState = (id: string, sink?: DecisionSink) => {
      const known = new Map<string, KnownDocument>()
      const exactIndex = new ExactIndex()
      const lsh = new LshIndex(hasher.config.bands)
      const ledger = new DocumentLedger(sink, listed && ((docId) => known.has(docId) || listed.has(docId)))
      if (journaling) ledger.startJournal()
      const accept = acceptDocument()
      const norm = normalise(ledger)
      const skip = skipUnchanged(known, { exact: exactIndex, lsh }, ledger)
      const lang = languageFilter({ ...(options.languages ? { keep: options.languages } : {}), minScore: minLanguageScore }, ledger, identifier)
      const quality = qualityFilter(options.quality ?? {}, ledger)
      const pii = piiScrubber(ledger)
      const exact = exactDedup(exactIndex, ledger)
      const near = nearDedup(hasher, lsh, ledger)
      const toks = tokenize(tok, ledger)
      const packer = pack({ sequenceLength, eosId })
      // PII is scrubbed before the quality filters: they judge the text that will be published, and a
      // phone, NIR or IBAN is one placeholder word there, not five digit groups (issue 21).
      // A changed document leaves the dedup indexes under its old content when skip-unchanged sees it.
      // On Kafka the dedup stage's indexes are in another process: the clean stage sends the old
      // version on, as a `changed` state record ahead of its batch's outputs (Pipeline.runs.emitted).
      const changed: Array<CorpusKnownDocument> = []
      const noteChanged = changedDocuments(known, (row) => journaling && changed.push(row))
      const clean = chain(chain(chain(chain(chain(chain(accept, norm), skip), noteChanged), lang), pii), quality)
      const dedupAndPack = chain(chain(chain(chain(exact, near), documents.tap((lines) => ledger.divertDocuments(lines))), toks), packer)
      const load = (row: KnownRow) => {
        const bands = row.bands.map((b) => parseInt(b, 36))
        known.set(row.docId, { contentHash: row.contentHash, status: row.status, bands })
        if (row.status === "kept") {
          exactIndex.add(row.contentHash, row.docId)
          lsh.add(bands, row.docId, true)
        } else if (row.status === "changed") {
          exactIndex.forget(row.docId, row.contentHash)
          lsh.forget(bands, row.docId)
        }
      }
      const drainChanged = () => changed.splice(0).map((row) => ({ key: row.docId, value: row }))
      const tallies = [accept.tally, norm.tally, skip.tally, lang.tally, pii.tally, quality.tally, exact.tally, near.tally, toks.tally, packer.tally]
      // Once the run is over: its dedup indexes let go (bytes of typed arrays released).
      const release = () => lsh.release() + exactIndex.release()
      return { id, known, ledger, clean, dedupAndPack, load, drainChanged, tallies, release }
    }
    const own = makeState(runId, staged && stagedSink(staged))
    let current = own
    const { known, ledger } = own

    const earlier = incremental && ownsWarehouse ? yield* CorpusState.load : []
    for (const row of earlier) own.load(row)

    const writer = new ArrowShardWriter(options.outDir, runId, options.sequencesPerShard ?? 1024)
    const outcome: CorpusRun["outcome"] = { retired: 0, documentsFile: undefined, manifest: undefined }

    // The clean stage's stateless steps (and MinHash banding and tokenization, which need only
    // the cleaned text) may run on worker threads ahead of it: RunOptions.workers.
    const offload: StageOffload<CorpusRead> = {
      module: new URL("./corpus-worker.ts", import.meta.url).href,
      init: {
        settings: { keep: keepLanguages, minScore: minLanguageScore, quality: { ...defaultQualityThresholds, ...options.quality } },
        training,
        minhash: hasher.config,
        // Only a tokenizer read from its file can be read again by a worker.
        ...(tokenizer === undefined ? { tokenizer: tokenizerPath(options.tokenizer) } : {})
      } satisfies CorpusWorkerInit,
      request: (read) =>
        read._tag === "Document" ? ({ text: read.document.text, ...(incremental && known.has(read.document.id) ? { knownHash: known.get(read.document.id)!.contentHash } : {}) } satisfies CorpusWorkerRequest) : undefined,
      attach: (read, reply) => (read._tag === "Document" ? { ...read, document: withAnalysis(read.document, reply as DocumentAnalysis) } : read)
    }
    const clean = delegate("clean", () => current.clean)
    const dedupAndPack = delegate("dedup-tokenize-pack", () => current.dedupAndPack)
    const fail = (operator: string) => (e: { message: string }) => new OperatorFailure({ operator, message: e.message })

    if (ownsWarehouse) yield* Runs.start(runId, "corpus", { ...options, incremental })
    const pipeline: Pipeline<Warehouse> = {
      name: "corpus",
      description: "Cleans, scrubs, deduplicates, tokenizes and packs a French health corpus into Arrow IPC shards",
      nodes: [
        source(
          "read-corpus",
          "corpus.raw",
          readCorpus(options.input, { ...(options.textField ? { textField: options.textField } : {}), ...(options.idField ? { idField: options.idField } : {}) }),
          expectedDocuments(options.input),
          corpusReadBytes
        ),
        { ...stage("corpus.raw", clean, "corpus.clean"), offload },
        stage("corpus.clean", dedupAndPack, "corpus.packed"),
        sink<PackedSequence, Warehouse>("write-shards", "corpus.packed", (batch) =>
          Effect.try({ try: () => writer.add(batch.map((e) => e.value)), catch: (e) => new OperatorFailure({ operator: "write-shards", message: String(e) }) }), {
          close: Effect.gen(function*() {
            yield* Effect.try({ try: () => writer.close(), catch: (e) => new OperatorFailure({ operator: "write-shards", message: String(e) }) })
            const documentsFile = yield* Effect.try({ try: () => documents.close(), catch: (e) => new OperatorFailure({ operator: "write-documents", message: String(e) }) })
            const retired = incremental ? [...known.keys()].filter((id) => !ledger.seen.has(id)) : []
            outcome.retired = retired.length
            outcome.documentsFile = documentsFile
            outcome.manifest = yield* Effect.try({
              try: () => {
                const manifest = updateManifest(options.outDir, readManifest(options.outDir), {
                  runId,
                  tokenizer: options.tokenizer,
                  sequenceLength: options.sequenceLength ?? defaultCorpusOptions.sequenceLength,
                  shards: writer.contents,
                  documentsFile: documentsFile === undefined ? undefined : { path: documentsFile, ids: documents.ids },
                  superseded: incremental ? new Set([...ledger.processed, ...retired]) : "all"
                })
                writeManifest(options.outDir, manifest)
                return manifest
              },
              catch: (e) => new OperatorFailure({ operator: "manifest", message: `${options.outDir}/manifest.json: ${e instanceof Error ? e.message : String(e)}` })
            })
            if (staged !== undefined) {
              ledger.flush()
              // The dedup indexes (~0.6 GB for 1 GB of input) are not needed any more: collected
              // before DuckDB's merge takes its ~0.3 GB, the two do not add up in the peak RSS.
              if (own.release() > COLLECT_BEFORE_SAVE_BYTES) collectGarbage()
              yield* CorpusState.saveStaged(runId, staged, ledger.seen).pipe(Effect.ensuring(Effect.sync(() => staged.remove())), Effect.mapError(fail("corpus-state")))
            } else if (incremental) {
              yield* CorpusState.save(runId, mapIterable(ledger.each(), toRow), ledger.seen).pipe(Effect.mapError(fail("corpus-state")))
            }
            yield* Runs.finish(runId, "succeeded", {
              seen: ledger.seen.size,
              processed: ledger.processed.size,
              shards: writer.written.length,
              documents: documentsFile ?? null,
              retired: retired.length,
              tallies: tallies.map((t) => t.snapshot())
            }).pipe(Effect.mapError(fail("corpus-state")))
          })
        })
      ],
      deadLetters: (batch) => landDeadLetters(runId, batch).pipe(Effect.mapError(fail("dead-letters"))),
      // corpus.raw carries the reader's union (documents and unreadable rows), corpus.packed sequences.
      records: { "corpus.raw": "CorpusRead", "corpus.packed": "PackedSequence" },
      partitions: CORPUS_PARTITIONS,
      // On Kafka the stages' decisions are made in whichever worker owns their partition: each batch's
      // go out on corpus.decisions with its outputs, and the run job's ledger takes them in before
      // the sink's close saves corpus_documents.
      journal: {
        topic: "corpus.decisions",
        record: "CorpusLedgerEntry",
        start: () => {
          journaling = true
          current.ledger.startJournal()
        },
        drain: () => current.ledger.drainJournal().map((e) => ({ key: e.docId, value: e })),
        // Into this process's own run: the decisions into its ledger, the kept documents into its file.
        land: (entries) =>
          Effect.try({
            try: () => {
              const lines: Array<CleanedDocument> = []
              for (const e of entries as ReadonlyArray<CorpusLedgerEntry>) {
                ledger.absorb(e)
                if (e.document) lines.push(e.document)
              }
              documents.addLines(lines)
            },
            catch: (e) => new OperatorFailure({ operator: "write-documents", message: String(e) })
          })
      },
      runs: {
        runId,
        stateRecord: "CorpusKnownDocument",
        startState: Effect.succeed(earlier.map((row) => ({ key: row.docId, value: { docId: row.docId, contentHash: row.contentHash, status: row.status, bands: [...row.bands] } }))),
        // Always a fresh state, this process's own run included: a stage that replays its run after
        // a takeover must start from the run's beginning, not from the state this process closes.
        enter: (id) => {
          current = makeState(id)
        },
        load: (record) => current.load(record as CorpusKnownDocument),
        emitted: () => current.drainChanged()
      }
    }
    const tallies = own.tallies
    // A failed or interrupted run must not stay `running` (settle is best effort: the warehouse may
    // itself be what failed); the sink's close marks a success.
    // The staged decisions are removed however the run ends (the sink's close removes them after the save).
    const settle = <A, E, R>(run: Effect.Effect<A, E, R>) => Runs.settle(runId)(run).pipe(Effect.ensuring(Effect.sync(() => staged?.remove())))
    return { runId, pipeline, ledger, tallies, writer, documents, outcome, settle } satisfies CorpusRun
  })

/** Indexes larger than this are collected before the state save (a full collection costs ~0.1-0.3 s). */
const COLLECT_BEFORE_SAVE_BYTES = 64 * 2 ** 20

/** The documents an output folder's manifest lists (none where there is none, or it cannot be read: the run's close says why). */
const manifestDocuments = (outDir: string): ReadonlySet<string> => {
  try {
    const m = readManifest(outDir)
    return new Set([...(m?.shards ?? []).flatMap((s) => s.documents), ...(m?.documentsFiles ?? []).flatMap((f) => f.documents)])
  } catch {
    return new Set()
  }
}

/** Paths relative to the repository root for `fleuve run corpus`, overridable from the environment. */
export const corpusOptionsFromEnv = (): CorpusOptions => ({
  input: process.env.FLEUVE_CORPUS_INPUT ?? defaultCorpusOptions.input,
  outDir: process.env.FLEUVE_CORPUS_OUT ?? defaultCorpusOptions.outDir,
  tokenizer: process.env.FLEUVE_TOKENIZER ?? defaultCorpusOptions.tokenizer
})

