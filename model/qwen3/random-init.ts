/**
 * A randomly initialised Qwen3 checkpoint in the Hugging Face layout (config.json,
 * model.safetensors, the tokenizer's files): weights normal(0, 0.02), norms at 1, from a seed, so
 * the same shape and seed always give the same bytes. What a study's from-scratch base starts from.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { mulberry32 } from "../../lib/random.ts"
import { writeSafetensors } from "../formats/safetensors.ts"
import type { HostTensor } from "../formats/safetensors.ts"
import { expectedShapes } from "../tfjs/qwen3-model.ts"
import { parseQwen3Config } from "./config.ts"

export interface Qwen3Shape {
  readonly hiddenSize: number
  readonly intermediateSize: number
  readonly layers: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly contextWindow: number
  readonly ropeTheta?: number | undefined
  readonly tieEmbeddings?: boolean | undefined
}

/** The Hugging Face config.json of a Qwen3 of this shape over a tokenizer's vocabulary. */
export const qwen3ConfigFor = (shape: Qwen3Shape, vocabSize: number, eosTokenId: number) => ({
  architectures: ["Qwen3ForCausalLM"],
  model_type: "qwen3",
  attention_bias: false,
  attention_dropout: 0,
  bos_token_id: eosTokenId,
  eos_token_id: eosTokenId,
  pad_token_id: eosTokenId,
  head_dim: shape.headDim,
  hidden_act: "silu",
  hidden_size: shape.hiddenSize,
  intermediate_size: shape.intermediateSize,
  num_hidden_layers: shape.layers,
  num_attention_heads: shape.heads,
  num_key_value_heads: shape.kvHeads,
  max_position_embeddings: shape.contextWindow,
  rms_norm_eps: 1e-6,
  rope_theta: shape.ropeTheta ?? 10000,
  tie_word_embeddings: shape.tieEmbeddings ?? false,
  use_cache: true,
  vocab_size: vocabSize,
  dtype: "float32"
})

/** Writes the checkpoint under `dir`; the tokenizer's tokenizer.json (and tokenizer_config.json) are copied in. */
export const writeRandomCheckpoint = (dir: string, o: { readonly shape: Qwen3Shape; readonly tokenizerDir: string; readonly seed: number }): void => {
  const tokenizer = JSON.parse(readFileSync(join(o.tokenizerDir, "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> }; added_tokens?: Array<{ id: number; content: string }> }
  const ids = [...Object.values(tokenizer.model.vocab), ...(tokenizer.added_tokens ?? []).map((t) => t.id)]
  const eos = (tokenizer.added_tokens ?? []).find((t) => t.content === "<|endoftext|>")?.id ?? 0
  const raw = qwen3ConfigFor(o.shape, Math.max(...ids) + 1, eos)
  const rand = mulberry32(o.seed)
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const host = new Map<string, HostTensor>()
  for (const [name, shape] of expectedShapes(parseQwen3Config(raw))) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    if (name.endsWith("norm.weight")) data.fill(1)
    else for (let i = 0; i < data.length; i++) data[i] = 0.02 * normal()
    host.set(name, { shape, data })
  }
  mkdirSync(dir, { recursive: true })
  writeSafetensors(join(dir, "model.safetensors"), host, { metadata: { format: "pt" } })
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2))
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) if (existsSync(join(o.tokenizerDir, f))) copyFileSync(join(o.tokenizerDir, f), join(dir, f))
}
