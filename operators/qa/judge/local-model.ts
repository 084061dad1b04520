import { Effect } from "effect"
import type { QaModel } from "../model.ts"
import { type Judge, JudgeError, loadRubric, rubricMessages, type RubricSet } from "./judge.ts"
import { parseVerdict } from "./parse-verdict.ts"

/**
 * A judge run on a local model through the model runtime (QaModel.generate). The chat messages
 * are laid out as plain text ending in "Note:", so even a small model answers with the number;
 * the verdict is read with parseVerdict and an unreadable one is a JudgeError with the raw text.
 */
export const localModelJudge = (model: QaModel, options: { readonly rubric?: RubricSet; readonly maxNewTokens?: number } = {}): Judge => {
  const rubric = options.rubric ?? loadRubric()
  const id = `local-model/${model.modelId}@${model.modelRevision.slice(0, 12)}${model.adapterHash === "none" ? "" : `+${model.adapterHash.slice(0, 12)}`}/${rubric.version}`
  return {
    id,
    kind: "local-model",
    judge: (request) =>
      Effect.gen(function*() {
        const [system, user] = rubricMessages(rubric, request)
        const prompt = `${system!.content}\n\n${user!.content}\n\nNote:`
        const [out] = yield* model.generate([prompt], { maxNewTokens: options.maxNewTokens ?? 8, stop: ["\n"] }).pipe(
          Effect.mapError((e) => new JudgeError({ judge: id, message: e.message }))
        )
        const raw = `Note:${out!.text}`
        const verdict = parseVerdict(raw)
        if (verdict._tag === "Unparseable") return yield* new JudgeError({ judge: id, message: `${verdict.reason}; raw output: ${raw.slice(0, 200)}` })
        return { score: verdict.score, judge: id, raw, order: request.order ?? "reference-first" }
      })
  }
}
