import { Effect } from "effect"
import type { HeldoutLossRow } from "../schemas/heldout-loss.ts"
import { HeldoutLosses } from "../warehouse/heldout-loss.ts"
import { fmt } from "./figures/common.ts"
import type { ReportTable } from "./tables.ts"

/**
 * "Loss on held-out corpus text": one row per system measured (table heldout_loss), lowest loss
 * first, with its difference from the reference's loss on the same texts and sequence length.
 * Undefined when nothing was measured (the table is left out of the report).
 */
export const heldoutLossTable = (rows: ReadonlyArray<HeldoutLossRow>, reference: string): ReportTable | undefined => {
  if (rows.length === 0) return undefined
  const sets = [...new Set(rows.map((r) => `${r.textsHash}\0${r.seqLen}`))]
  const refOf = (r: HeldoutLossRow) => rows.find((x) => x.system === reference && x.textsHash === r.textsHash && x.seqLen === r.seqLen)
  const textsOf = (r: HeldoutLossRow) => `${r.textsSource ?? r.textsHash.slice(0, 12)} (${r.texts} texts, ${r.seqLen}-token sequences)`
  return {
    id: "heldout-loss",
    title: "Loss on held-out corpus text",
    caption: `Mean next-token negative log-likelihood (nats per token; lower is better) of each system on text it was not trained on, packed into sequences as DAPT packs its corpus, and the perplexity exp(loss). Δ: the system's loss minus ${reference}'s on the same texts.`,
    header: ["System", "Loss", "Perplexity", `Δ vs ${reference}`, "Tokens", ...(sets.length > 1 ? ["Texts"] : [])],
    numeric: [false, true, true, true, true, ...(sets.length > 1 ? [false] : [])],
    rows: [...rows]
      .sort((a, b) => a.textsHash.localeCompare(b.textsHash) || a.seqLen - b.seqLen || a.meanNll - b.meanNll || a.system.localeCompare(b.system))
      .map((r) => {
        const ref = refOf(r)
        return [
          r.system === reference ? `${r.system} (reference)` : r.system,
          fmt(r.meanNll),
          fmt(r.perplexity, 2),
          ref ? fmt(r.meanNll - ref.meanNll, 3, true) : "–",
          String(r.tokens),
          ...(sets.length > 1 ? [textsOf(r)] : [])
        ]
      })
  }
}

export const loadHeldoutLossTable = (reference: string) => Effect.map(HeldoutLosses.list, (rows) => heldoutLossTable(rows, reference))
