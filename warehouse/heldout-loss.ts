import { Effect } from "effect"
import type { HeldoutLossRow } from "../schemas/heldout-loss.ts"
import { sqlFile, Warehouse } from "./warehouse.ts"

/** The `heldout_loss` table (migration 0007): each system's loss on held-out text. */
export const HeldoutLosses = {
  /** Lands a measurement; the same system, texts and sequence length measured again replaces it. */
  record: (r: HeldoutLossRow) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec(sqlFile("heldout_loss"), [
        r.system, r.textsHash, r.seqLen, r.textsSource ?? null, r.modelId, r.modelRevision, r.adapterHash,
        r.texts, r.sequences, r.tokens, r.meanNll, r.perplexity, r.runId ?? null
      ])
    }),
  /** Every measurement, by texts, sequence length, then loss (lowest first). */
  list: Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{
      system: string; texts_hash: string; seq_len: number; texts_source: string | null; model_id: string | null; model_revision: string | null; adapter_hash: string | null
      texts: number; sequences: number; tokens: number; mean_nll: number; perplexity: number; run_id: string | null
    }>("SELECT * FROM heldout_loss ORDER BY texts_hash, seq_len, mean_nll, system")
    return rows.map((r): HeldoutLossRow => ({
      system: r.system, textsHash: r.texts_hash, seqLen: Number(r.seq_len), ...(r.texts_source !== null ? { textsSource: r.texts_source } : {}),
      modelId: r.model_id ?? "", modelRevision: r.model_revision ?? "", adapterHash: r.adapter_hash ?? "none",
      texts: Number(r.texts), sequences: Number(r.sequences), tokens: Number(r.tokens), meanNll: r.mean_nll, perplexity: r.perplexity,
      ...(r.run_id !== null ? { runId: r.run_id } : {})
    }))
  })
}
