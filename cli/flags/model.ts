import { Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { adapterFlag, backendFlag, engineFlag, modelFlag } from "./model-selection.ts"
import { withDefaultSaid } from "./defaults.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"

export const inputFlag = Flag.String("input").pipe(Flag.withDescription("JSONL file, one request per line (required)"))
export const windowFlag = Flag.Int("context-window").pipe(
  Flag.withDescription(withDefaultSaid("Tokens the model may see; longer contexts lose tokens on the left, reported per line (0: the config's max_position_embeddings)", 0)),
  Flag.withDefault(0)
)

export const logprobsConfig = { model: modelFlag, input: inputFlag, backend: backendFlag, engine: engineFlag, adapter: adapterFlag, contextWindow: windowFlag, maxRecordBytes: maxRecordBytesFlag }
export type LogprobsArgs = ArgsOf<typeof logprobsConfig>

export const generateConfig = {
  model: modelFlag,
  input: inputFlag,
  backend: backendFlag,
  engine: engineFlag,
  adapter: adapterFlag,
  contextWindow: windowFlag,
  maxNewTokens: Flag.Int("max-new-tokens").pipe(Flag.withDescription(withDefaultSaid("Tokens to generate at most per prompt", 64)), Flag.withDefault(64)),
  stop: Flag.String("stop").pipe(Flag.withDescription("Stop string (repeat the flag for several); cut from the output"), Flag.atLeast(0)),
  batch: Flag.Int("batch").pipe(
    Flag.withDescription(withDefaultSaid("Prompts decoded together at most (0: as many as free memory holds, measured on the GPU or the host, and at most 128 on the WGSL decoder; a batch that runs out of memory is halved)", 0)),
    Flag.withDefault(0)
  ),
  maxRecordBytes: maxRecordBytesFlag
}
export type GenerateArgs = ArgsOf<typeof generateConfig>
