import { Effect } from "effect"
import { krippendorffAlpha, weightedKappa } from "./agreement.ts"
import type { Judge, JudgeError, JudgeRequest } from "./judge.ts"

export interface PanelResult {
  /** Per judge id, its score for each request (undefined where that judge failed). */
  readonly scores: ReadonlyMap<string, ReadonlyArray<number | undefined>>
  readonly failures: ReadonlyArray<JudgeError>
  /** Quadratic-weighted Cohen's kappa for each pair of judges, on the items both scored. */
  readonly pairs: ReadonlyArray<{ readonly a: string; readonly b: string; readonly kappa: number; readonly n: number }>
  /** Krippendorff's alpha (ordinal) over all judges; missing scores allowed. */
  readonly alpha: number
}

/** Several judges score the same answers; their agreement says how far one judge can be trusted. */
export const judgePanel = (judges: ReadonlyArray<Judge>, requests: ReadonlyArray<JudgeRequest>, concurrency = 4) =>
  Effect.gen(function*() {
    const failures: Array<JudgeError> = []
    const scores = new Map<string, Array<number | undefined>>()
    for (const judge of judges) {
      const row = yield* Effect.forEach(requests, (r) =>
        judge.judge(r).pipe(
          Effect.map((v) => v.score as number | undefined),
          Effect.catchTag("JudgeError", (e) => Effect.sync(() => (failures.push(e), undefined)))
        ), { concurrency })
      scores.set(judge.id, row)
    }
    const ids = [...scores.keys()]
    const pairs = ids.flatMap((a, i) =>
      ids.slice(i + 1).map((b) => {
        const both = scores.get(a)!.map((x, k) => [x, scores.get(b)![k]] as const).filter((p): p is readonly [number, number] => p[0] !== undefined && p[1] !== undefined)
        return { a, b, kappa: weightedKappa(both.map((p) => p[0]), both.map((p) => p[1]), [1, 2, 3, 4, 5]), n: both.length }
      })
    )
    return { scores, failures, pairs, alpha: krippendorffAlpha(ids.map((id) => scores.get(id)!), "ordinal") } satisfies PanelResult
  })
