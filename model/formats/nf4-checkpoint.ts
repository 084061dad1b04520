import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from "node:fs"
import { join } from "node:path"
import { NF4_CODE, type Nf4Tensor, quantizeNf4 } from "./nf4.ts"
import { SafetensorsError } from "./safetensors.ts"
import { type LazySafetensors, openSafetensors } from "./safetensors-lazy.ts"

/**
 * NF4 checkpoints: a safetensors file in the layout bitsandbytes / transformers save 4-bit models
 * in (`QuantState.as_dict(packed=True)`), so PEFT and transformers can load it too. For each
 * quantised weight `W`:
 *
 *   W                                  U8  [ceil(n/2), 1]  two NF4 indices a byte, first in the high nibble
 *   W.absmax                           F32 [blocks]        (U8 [blocks] when double-quantised)
 *   W.quant_map                        F32 [16]            the NF4 code book
 *   W.nested_absmax                    F32 [ceil(blocks/256)]   double quantisation only
 *   W.nested_quant_map                 F32 [256]                double quantisation only
 *   W.quant_state.bitsandbytes__nf4    U8  [len]           UTF-8 JSON: quant_type, blocksize, dtype, shape
 *                                                          (+ nested_blocksize, nested_dtype, nested_offset)
 *
 * Every other tensor (norms, and weights the `include` pattern leaves out) is copied unchanged.
 * `__metadata__` holds format "pt" and fleuve_quantization "nf4".
 */

export interface QuantizeCheckpointOptions {
  /** weights whose names match are quantised (2-D or more, at least one block); default: linear projections */
  readonly include?: RegExp
  readonly doubleQuant?: boolean
  readonly blocksize?: number
  readonly onTensor?: (name: string, index: number, total: number, quantized: boolean) => void
}

/** Qwen/Llama-style linear layers: q/k/v/o and gate/up/down projections. */
export const DEFAULT_INCLUDE = /_proj\.weight$/

const torchDtype: Record<string, string> = { BF16: "bfloat16", F16: "float16", F32: "float32" }
const STATE_SUFFIX = ".quant_state.bitsandbytes__nf4"
// The quant-state JSON carries the offset, known only after quantising; a fixed reserve of
// trailing spaces (valid JSON whitespace) lets the header be written first.
const STATE_RESERVE = 48

/** The shards of a checkpoint: one .safetensors file, a folder with model.safetensors, or its index. */
export const checkpointShards = (input: string): Array<string> => {
  if (!existsSync(input)) throw new SafetensorsError(input, "does not exist")
  if (!statSync(input).isDirectory()) return [input]
  const single = join(input, "model.safetensors")
  if (existsSync(single)) return [single]
  const index = join(input, "model.safetensors.index.json")
  if (!existsSync(index)) throw new SafetensorsError(input, "has neither model.safetensors nor model.safetensors.index.json")
  const weightMap: Record<string, string> = JSON.parse(readFileSync(index, "utf8")).weight_map ?? {}
  return [...new Set(Object.values(weightMap))].sort().map((s) => join(input, s))
}

interface PlannedEntry {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
  readonly bytes: number
}

interface Source {
  readonly name: string
  readonly file: LazySafetensors
  readonly quantize: boolean
}

const numel = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

const stateJson = (t: Nf4Tensor, dtype: string): string => {
  const base: Record<string, unknown> = { quant_type: "nf4", blocksize: t.blocksize, dtype, shape: t.shape }
  if (t.stats._tag === "Nested") {
    Object.assign(base, { nested_blocksize: t.stats.blocksize2, nested_dtype: "float32", nested_offset: t.stats.offset })
  }
  return JSON.stringify(base)
}

const planFor = (src: Source, entry: { dtype: string; shape: ReadonlyArray<number>; start: number; end: number }, o: Required<Pick<QuantizeCheckpointOptions, "blocksize" | "doubleQuant">>): Array<PlannedEntry> => {
  if (!src.quantize) return [{ name: src.name, dtype: entry.dtype, shape: entry.shape, bytes: entry.end - entry.start }]
  const n = numel(entry.shape)
  const blocks = Math.ceil(n / o.blocksize)
  const stateLen = Buffer.byteLength(stateJson(
    { shape: [...entry.shape], blocksize: o.blocksize, packed: new Uint8Array(0), stats: o.doubleQuant ? { _tag: "Nested", qabsmax: new Uint8Array(0), absmax2: new Float32Array(0), code2: new Float32Array(0), blocksize2: 256, offset: 0 } : { _tag: "Plain", absmax: new Float32Array(0) } },
    torchDtype[entry.dtype] ?? "float32"
  )) + STATE_RESERVE
  const out: Array<PlannedEntry> = [
    { name: src.name, dtype: "U8", shape: [Math.ceil(n / 2), 1], bytes: Math.ceil(n / 2) },
    { name: `${src.name}.absmax`, dtype: o.doubleQuant ? "U8" : "F32", shape: [blocks], bytes: blocks * (o.doubleQuant ? 1 : 4) },
    { name: `${src.name}.quant_map`, dtype: "F32", shape: [16], bytes: 64 }
  ]
  if (o.doubleQuant) {
    const blocks2 = Math.ceil(blocks / 256)
    out.push(
      { name: `${src.name}.nested_absmax`, dtype: "F32", shape: [blocks2], bytes: blocks2 * 4 },
      { name: `${src.name}.nested_quant_map`, dtype: "F32", shape: [256], bytes: 1024 }
    )
  }
  out.push({ name: `${src.name}${STATE_SUFFIX}`, dtype: "U8", shape: [stateLen], bytes: stateLen })
  return out
}

const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/**
 * Quantises a checkpoint once into one NF4 safetensors file, tensor by tensor (memory stays at
 * one tensor's f32 copy). Returns the number of quantised and copied tensors.
 */
export const quantizeCheckpoint = (input: string, output: string, options: QuantizeCheckpointOptions = {}): { quantized: number; copied: number; bytes: number } => {
  const include = options.include ?? DEFAULT_INCLUDE
  const o = { blocksize: options.blocksize ?? 64, doubleQuant: options.doubleQuant ?? false }
  const files = checkpointShards(input).map(openSafetensors)
  try {
    const sources: Array<Source> = []
    for (const file of files) {
      for (const e of file.entries.values()) {
        const quantize = include.test(e.name) && e.shape.length >= 2 && numel(e.shape) >= o.blocksize && torchDtype[e.dtype] !== undefined
        sources.push({ name: e.name, file, quantize })
      }
    }
    sources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const plans = sources.map((s) => planFor(s, s.file.entries.get(s.name)!, o))
    const header: Record<string, unknown> = { __metadata__: { format: "pt", fleuve_quantization: "nf4" } }
    let offset = 0
    for (const p of plans.flat()) {
      header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + p.bytes] }
      offset += p.bytes
    }
    let json = JSON.stringify(header)
    json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8)
    const fd = openSync(output, "w")
    try {
      const head = Buffer.alloc(8)
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
      writeSync(fd, head)
      writeSync(fd, Buffer.from(json, "utf8"))
      let quantized = 0
      sources.forEach((src, i) => {
        options.onTensor?.(src.name, i, sources.length, src.quantize)
        if (!src.quantize) {
          writeSync(fd, src.file.readBytes(src.name))
          return
        }
        quantized++
        const e = src.file.entries.get(src.name)!
        const t = quantizeNf4(src.file.readF32(src.name), e.shape, { blocksize: o.blocksize, doubleQuant: o.doubleQuant })
        writeSync(fd, t.packed)
        if (t.stats._tag === "Plain") writeSync(fd, f32Bytes(t.stats.absmax))
        else writeSync(fd, t.stats.qabsmax)
        writeSync(fd, f32Bytes(NF4_CODE))
        if (t.stats._tag === "Nested") {
          writeSync(fd, f32Bytes(t.stats.absmax2))
          writeSync(fd, f32Bytes(t.stats.code2))
        }
        const stateLen = plans[i]!.at(-1)!.bytes
        const state = stateJson(t, torchDtype[e.dtype]!)
        writeSync(fd, Buffer.from(state.padEnd(stateLen, " "), "utf8"))
      })
      return { quantized, copied: sources.length - quantized, bytes: 8 + Buffer.byteLength(json) + offset }
    } finally {
      closeSync(fd)
    }
  } finally {
    for (const f of files) f.close()
  }
}

/** An NF4 checkpoint opened for reading: quantised weights come back packed, never dequantised. */
export interface Nf4Checkpoint {
  /** logical tensor names (the quantised weight's own name, not its .absmax etc.) */
  readonly names: ReadonlyArray<string>
  isQuantized(name: string): boolean
  /** the packed NF4 tensor with its statistics */
  nf4(name: string): Nf4Tensor
  /** a tensor stored unquantised, as f32 */
  dense(name: string): Float32Array
  shape(name: string): ReadonlyArray<number>
  close(): void
}

export const openNf4Checkpoint = (file: string): Nf4Checkpoint => {
  const st = openSafetensors(file)
  const states = new Map<string, Record<string, unknown>>()
  for (const name of st.entries.keys()) {
    if (name.endsWith(STATE_SUFFIX)) {
      const base = name.slice(0, -STATE_SUFFIX.length)
      try {
        states.set(base, JSON.parse(Buffer.from(st.readBytes(name)).toString("utf8")))
      } catch (e) {
        st.close()
        throw new SafetensorsError(file, `tensor '${name}' is not a JSON quant state (${e instanceof Error ? e.message : String(e)})`)
      }
    }
  }
  const parts = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", STATE_SUFFIX]
  const isPart = (n: string) => parts.some((p) => n.endsWith(p) && states.has(n.slice(0, -p.length)))
  const names = [...st.entries.keys()].filter((n) => !isPart(n))
  const need = (name: string) => {
    const s = states.get(name)
    if (!s) throw new SafetensorsError(file, `tensor '${name}' is not NF4-quantised`)
    if (s.quant_type !== "nf4") throw new SafetensorsError(file, `tensor '${name}' has quant_type ${String(s.quant_type)}; fleuve reads nf4`)
    return s
  }
  return {
    names,
    isQuantized: (name) => states.has(name),
    shape: (name) => (states.get(name)?.shape as Array<number> | undefined) ?? st.entries.get(name)!.shape,
    dense: (name) => st.readF32(name),
    nf4: (name) => {
      const s = need(name)
      const packed = st.readBytes(name)
      const blocksize = Number(s.blocksize)
      const shape = s.shape as Array<number>
      if (s.nested_offset === undefined) {
        return { shape, blocksize, packed, stats: { _tag: "Plain", absmax: st.readF32(`${name}.absmax`) } }
      }
      return {
        shape,
        blocksize,
        packed,
        stats: {
          _tag: "Nested",
          qabsmax: st.readBytes(`${name}.absmax`),
          absmax2: st.readF32(`${name}.nested_absmax`),
          code2: st.readF32(`${name}.nested_quant_map`),
          blocksize2: Number(s.nested_blocksize),
          offset: Number(s.nested_offset)
        }
      }
    },
    close: () => st.close()
  }
}
