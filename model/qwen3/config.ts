import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"

/** The fields of a Hugging Face Qwen3 `config.json` that the decoder needs. */
export interface Qwen3Config {
  readonly vocabSize: number
  readonly hiddenSize: number
  readonly intermediateSize: number
  readonly numLayers: number
  readonly numHeads: number
  readonly numKvHeads: number
  readonly headDim: number
  readonly rmsNormEps: number
  readonly ropeTheta: number
  readonly maxPositions: number
  readonly tieWordEmbeddings: boolean
  readonly eosTokenId: number | undefined
}

export class ConfigError extends Error {}

const num = (file: string, raw: Record<string, unknown>, key: string, fallback?: number): number => {
  const v = raw[key] ?? fallback
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`${file}: field '${key}' must be a number, got ${JSON.stringify(raw[key])}`)
  return v
}

/** Parses config.json; theta comes from `rope_theta` or, in newer files, `rope_parameters.rope_theta`. */
export const parseQwen3Config = (raw: Record<string, unknown>, file = "config.json"): Qwen3Config => {
  const modelType = raw.model_type
  if (modelType !== undefined && modelType !== "qwen3") throw new ConfigError(`${file}: model_type is '${String(modelType)}', fleuve runs 'qwen3'`)
  const rope = (raw.rope_parameters ?? {}) as Record<string, unknown>
  const scaling = (raw.rope_scaling ?? rope) as Record<string, unknown>
  const ropeType = scaling.rope_type ?? scaling.type ?? "default"
  if (ropeType !== "default") throw new ConfigError(`${file}: rope type '${String(ropeType)}' is not supported (only default RoPE)`)
  const hiddenSize = num(file, raw, "hidden_size")
  const numHeads = num(file, raw, "num_attention_heads")
  const numKvHeads = num(file, raw, "num_key_value_heads", numHeads)
  if (numHeads % numKvHeads !== 0) throw new ConfigError(`${file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`)
  const eos = raw.eos_token_id
  return {
    vocabSize: num(file, raw, "vocab_size"),
    hiddenSize,
    intermediateSize: num(file, raw, "intermediate_size"),
    numLayers: num(file, raw, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim: num(file, raw, "head_dim", hiddenSize / numHeads),
    rmsNormEps: num(file, raw, "rms_norm_eps", 1e-6),
    ropeTheta: typeof raw.rope_theta === "number" ? raw.rope_theta : num(file, rope, "rope_theta", 10000),
    maxPositions: num(file, raw, "max_position_embeddings", 32768),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    eosTokenId: typeof eos === "number" ? eos : Array.isArray(eos) && typeof eos[0] === "number" ? eos[0] : undefined
  }
}

export const readQwen3Config = (dir: string): { config: Qwen3Config; raw: Record<string, unknown> } => {
  const file = join(dir, "config.json")
  if (!existsSync(file)) throw new ConfigError(`${dir}: no config.json (expected a Hugging Face model folder)`)
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(readFileSync(file, "utf8"))
  } catch (e) {
    throw new ConfigError(`${file}: not JSON (${String(e)})`)
  }
  return { config: parseQwen3Config(raw, file), raw }
}
