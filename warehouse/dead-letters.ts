import { Effect } from "effect"
import { createHash } from "node:crypto"
import { redact } from "../lib/redact.ts"
import { describePosition } from "../schemas/common.ts"
import type { DeadLetter } from "../schemas/dead-letter.ts"
import { stagedSql, Warehouse } from "./warehouse.ts"

const idOf = (d: DeadLetter) =>
  createHash("sha256").update(`${d.operator}\0${describePosition(d.position)}\0${d.reason}\0${d.record}`).digest("hex").slice(0, 32)

/** Lands dead letters idempotently: the same rejected record for the same reason lands once. */
export const landDeadLetters = (runId: string, deadLetters: ReadonlyArray<DeadLetter>) =>
  Effect.gen(function*() {
    if (deadLetters.length === 0) return
    const w = yield* Warehouse
    yield* w.exec(`CREATE OR REPLACE TEMP TABLE dead_letter_staging AS SELECT * EXCLUDE (created_at) FROM dead_letters LIMIT 0`)
    yield* w.append(
      "dead_letter_staging",
      // Reasons quote what failed (a URL, a server's answer): never store a credential in them.
      deadLetters.map((d) => [idOf(d), runId, d.operator, redact(d.reason), d.field ?? null, describePosition(d.position), d.record])
    )
    yield* w.exec(stagedSql("dead_letters", "dead_letter_staging"))
    yield* w.exec("DROP TABLE dead_letter_staging")
  })
