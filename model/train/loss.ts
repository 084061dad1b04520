import * as tf from "@tensorflow/tfjs-core"
import type { ForwardOptions, Qwen3Model } from "../tfjs/qwen3-model.ts"
import { fusedCausalLmLoss } from "../cpu/tfjs-bridge.ts"
import { fusedCpuActive } from "../cpu/active.ts"

/**
 * Mean next-token cross-entropy over a batch of equal-length sequences, as transformers'
 * causal-LM loss: position i predicts token i + 1; `targetMask` (same shape as ids) keeps only the
 * tokens that count as targets (e.g. the answer of a QA record), like labels of -100.
 */
export const causalLmLoss = (
  model: Qwen3Model,
  ids: ReadonlyArray<ReadonlyArray<number>>,
  options: { readonly targetMask?: ReadonlyArray<ReadonlyArray<number>> } & Pick<ForwardOptions, "dropoutSeed" | "dropoutMasks"> = {}
): tf.Scalar => {
  // The cpu-fused backend: one fused op whose gradient is fleuve's hand-written backward (model/cpu/).
  if (fusedCpuActive()) return fusedCausalLmLoss(model, ids, options)
  const b = ids.length
  const t = ids[0]!.length
  const v = model.config.vocabSize
  const { targetMask: _, ...dropout } = options
  const { logits } = model.forward(ids, dropout)
  const targets: Array<number> = []
  const weights: Array<number> = []
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t - 1; i++) {
      targets.push(ids[r]![i + 1]!)
      weights.push(options.targetMask ? options.targetMask[r]![i + 1]! : 1)
    }
  }
  const count = weights.reduce((a, w) => a + w, 0)
  if (count === 0) throw new Error("batch has no target tokens")
  const shifted = tf.reshape(tf.slice(logits, [0, 0, 0], [b, t - 1, v]), [b * (t - 1), v])
  const nll = tf.sub(tf.logSumExp(shifted, 1), tf.sum(tf.mul(shifted, tf.oneHot(tf.tensor1d(targets, "int32"), v)), 1))
  return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), count) as tf.Scalar
}
