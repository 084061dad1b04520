/**
 * What the scoring benchmarks score: a Qwen3-0.6B-shaped model with random weights (f16-rounded,
 * so fleuve's f16 engine and tfjs' f32 runtime hold the same values), and multiple-choice items
 * made from their index out of the tiny fixture's French corpus. The same arguments give the same
 * model and the same items in every script (bench/engine/scoring.ts, cached-batch.ts).
 */
import * as tf from "@tensorflow/tfjs-core"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { roundF16 } from "../../model/wgsl/kernels/buffers.ts"
import { parseQwen3Config, type Qwen3Config } from "../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../model/tfjs/qwen3-model.ts"
import { loadTokenizer, type TextTokenizer } from "../../model/formats/tokenizer/tokenizer.ts"

/** Qwen3-0.6B's shape with `layers` layers; `tiny`: a 2-layer, 128-wide model for smoke runs. */
export const benchConfig = (layers: number, tiny: boolean): Qwen3Config =>
  parseQwen3Config({
    model_type: "qwen3", vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: layers,
    num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 4096, tie_word_embeddings: true,
    ...(tiny ? { vocab_size: 512, hidden_size: 128, intermediate_size: 256, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 64, num_hidden_layers: 2 } : {})
  })

/** Random normal weights (σ 0.02, seeded per tensor), rounded to f16 on the host; norms are ones. */
export const randomF16Model = async (config: Qwen3Config): Promise<Qwen3Model> => {
  let seed = 1
  const params = new Map<string, tf.Tensor>()
  for (const [name, shape] of expectedShapes(config)) {
    if (name.includes("norm")) {
      params.set(name, tf.ones(shape))
      continue
    }
    // asynchronous read: WebGPU cannot read synchronously in Node
    const r = tf.randomNormal(shape, 0, 0.02, "float32", seed++)
    params.set(name, tf.tensor(roundF16((await r.data()) as Float32Array), shape))
    r.dispose()
  }
  return new Qwen3Model(config, params)
}

export interface BenchItem {
  readonly context: string
  readonly options: ReadonlyArray<string>
}

/** The tiny fixture's tokenizer (its ids fit any vocabulary ≥ 384). FLEUVE_TEST_FIXTURES: the fixtures of a bundled run on a GPU host. */
export const benchTokenizerDir = (): string => join(process.env.FLEUVE_TEST_FIXTURES ?? "test/fixtures", "qwen3-tiny")

export const benchTokenizer = (): TextTokenizer => loadTokenizer(benchTokenizerDir())

/** Item i: a context of at least `contextTokens` tokens from word 17·i on, and `nOptions` options of 1–8 words. */
export const benchItem = (tokenizer: TextTokenizer, i: number, nOptions: number, contextTokens: number): BenchItem => {
  const words = readFileSync(join(benchTokenizerDir(), "corpus.txt"), "utf8").split("\n").filter((l) => l.trim() !== "").join(" ").split(" ")
  let context = ""
  for (let w = i * 17; tokenizer.encode(context).length < contextTokens; w++) context += `${words[w % words.length]} `
  const options = Array.from({ length: nOptions }, (_, k) => ` ${words.slice((i * 7 + k * 13) % words.length, ((i * 7 + k * 13) % words.length) + 1 + ((i + k) % 8)).join(" ")}`)
  return { context: context.trimEnd(), options }
}
