// llama.cpp's OpenAI-compatible server (PyPI llama-cpp-python, built by scripts/setup/60-llama-cpp.sh)
// serving an f32 GGUF made by llama.cpp's own converter: `qwentok`, a tiny random Qwen3 with the real
// Qwen3 tokenizer (151 936 tokens), or `tiny1k`, the committed test/fixtures/qwen3-tiny (384-token
// tokenizer) with a 1024-token window. Started on a free loopback port; `kill` kills it (SIGKILL: the
// fault test's crash), `start` brings it back on the same port.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { freePort } from "./ports.ts"

/** Where scripts/setup/60-llama-cpp.sh builds: outside the checkout, so every clone on a machine shares it. */
export const llamaDir = process.env.FLEUVE_LLAMA_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "fleuve", "llama-cpp")
export const llamaPython = join(llamaDir, "venv", "bin", "python")
/** The HF checkpoint fleuve loads (same weights as the GGUF). */
export const qwentokModelDir = join(llamaDir, "qwen3-tiny-qwentok")
export const qwentokGguf = join(llamaDir, "qwen3-tiny-qwentok.f32.gguf")
/** The committed tiny fixture's weights and tokenizer with a 1024-token window (HF folder + GGUF). */
export const tiny1kModelDir = join(llamaDir, "qwen3-tiny-1k")
export const tiny1kGguf = join(llamaDir, "qwen3-tiny-1k.f32.gguf")
const ggufs = { qwentok: qwentokGguf, tiny1k: tiny1kGguf } as const

export const llamaServerMissing = (): string | undefined => {
  const absent = [llamaPython, qwentokGguf, tiny1kGguf].find((f) => !existsSync(f))
  return absent ? `llama.cpp server not installed (${absent} missing): run bash scripts/setup/60-llama-cpp.sh` : undefined
}

export interface LlamaServer {
  readonly url: string
  readonly alias: string
  readonly start: () => Promise<void>
  /** Kills the process without warning (a crash), waiting until it is gone. */
  readonly kill: () => Promise<void>
  readonly log: () => string
}

export const llamaServer = async (options: { readonly model?: keyof typeof ggufs; readonly apiKey?: string; readonly alias?: string; readonly bos?: boolean } = {}): Promise<LlamaServer> => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const model = options.model ?? "qwentok"
  const alias = options.alias ?? `qwen3-tiny-${model}`
  let proc: ChildProcess | undefined
  let output = ""
  const start = async () => {
    const args = ["-m", "llama_cpp.server", "--model", ggufs[model], "--model_alias", alias, "--host", "127.0.0.1", "--port", String(port),
      "--n_ctx", "1024", "--n_threads", "1", "--n_threads_batch", "1", "--logits_all", "true", "--seed", "0",
      // f32 KV cache (llama.cpp's default is f16: ~1e-3 nat off), and a BOS before every prompt:
      // without one, llama-cpp-python 0.3.36 shifts the echoed prompt log-probs by one token.
      "--type_k", "0", "--type_v", "0", ...(options.bos === false ? [] : ["--kv_overrides", "tokenizer.ggml.add_bos_token=bool:true"]),
      ...(options.apiKey ? ["--api_key", options.apiKey] : [])]
    const p = spawn(llamaPython, args, { stdio: ["ignore", "pipe", "pipe"] })
    proc = p
    p.stdout!.on("data", (d) => (output = (output + d).slice(-20_000)))
    p.stderr!.on("data", (d) => (output = (output + d).slice(-20_000)))
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`llama.cpp server exited with ${p.exitCode}:\n${output.slice(-3000)}`)
      try {
        const r = await fetch(`${url}/v1/models`, { headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {} })
        if (r.ok) return
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new Error(`llama.cpp server did not answer within 60 s:\n${output.slice(-3000)}`)
  }
  const kill = async () => {
    const p = proc
    if (!p || p.exitCode !== null) return
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve())
      p.kill("SIGKILL")
    })
  }
  await start()
  return { url, alias, start, kill, log: () => output }
}
