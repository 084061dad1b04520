import { selectBackend, webgpuEngineGpu, webgpuEngineUnavailable } from "../../model/tfjs/backend.ts"
import { parseQwen3Config } from "../../model/qwen3/config.ts"

/**
 * Selects the webgpu backend and says why tests of fleuve's WGSL engine (and its decoder) cannot
 * run here, or false when they can: they need webgpu with tensor cores (CPU-only CI has none).
 */
export const engineTestSkip = async (): Promise<string | false> => {
  try {
    await selectBackend("webgpu")
  } catch (e) {
    return `no WebGPU backend: ${e instanceof Error ? e.message : String(e)}`
  }
  const gpu = webgpuEngineGpu()
  if (!gpu) return `no engine device: ${webgpuEngineUnavailable()}`
  return gpu.subgroupMatrixConfigs.length > 0 ? false : `${gpu.adapter.description} has no subgroup matrices (tensor cores)`
}

/** The engine tests' Qwen3: 128-aligned widths, GQA 4:2, head_dim 64, an untied head, end-of-text 0. */
export const engineTestConfig = parseQwen3Config({
  model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: false, eos_token_id: 0
})
