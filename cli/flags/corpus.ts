import { Argument, Flag } from "effect/cli"
import { defaultCorpusOptions } from "../../pipelines/corpus-options.ts"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { decimalIntFlag } from "./decimal-int.ts"
import { withDefaultSaid } from "./defaults.ts"

export const corpusFlags = {
  input: Argument.String("input").pipe(Argument.withDescription("Corpus to process: a JSONL (.jsonl/.jsonl.gz), CSV or Parquet file with a `text` field, or a folder of .txt files (and/or such files)")),
  out: Flag.String("out").pipe(Flag.withDescription(withDefaultSaid("Folder for the packed Arrow IPC shards (<run id>-NNNNN.arrow)", defaultCorpusOptions.outDir)), Flag.withDefault(defaultCorpusOptions.outDir)),
  tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription(withDefaultSaid("Hugging Face tokenizer.json, a model folder holding it, or qwen3: Qwen3's tokenizer, installed with fleuve", defaultCorpusOptions.tokenizer)), Flag.withDefault(defaultCorpusOptions.tokenizer)),
  config: Flag.String("config").pipe(
    Flag.withDescription("JSON file of thresholds, e.g. {\"quality\": {\"minWords\": 30}, \"minLanguageScore\": 0.8, \"languages\": [\"fr\"], \"sequenceLength\": 4096}; checked strictly (unknown keys, wrong types and ranges are errors; docs/corpus.md lists the keys)"),
    Flag.optional
  ),
  sequenceLength: decimalIntFlag("sequence-length").pipe(Flag.withDescription(withDefaultSaid("Tokens per packed training sequence", defaultCorpusOptions.sequenceLength)), Flag.withDefault(defaultCorpusOptions.sequenceLength)),
  textField: Flag.String("text-field").pipe(Flag.withDescription(withDefaultSaid("Field holding the text in JSONL/CSV/Parquet rows", "text")), Flag.withDefault("text")),
  idField: Flag.String("id-field").pipe(Flag.withDescription(withDefaultSaid("Field holding a stable document id (else file:line)", "id")), Flag.withDefault("id")),
  compact: Flag.Boolean("compact").pipe(
    Flag.withDescription(withDefaultSaid("After the run, rewrite the current documents of --out into full shards and one documents file, and remove the files manifest.json listed (stale versions, retired documents, small remainder shards)", false)),
    Flag.withDefault(false)
  ),
  workers: Flag.Int("workers").pipe(
    Flag.withDescription("Threads for the stateless steps (normalisation, language id, PII, quality, MinHash, tokenization); the output is the same whatever the number (default: cores − 1 on machines of 4 cores or more for inputs of 8 MB or more, else 1)"),
    Flag.optional
  ),
  full: Flag.Boolean("full").pipe(Flag.withDescription(withDefaultSaid("Reprocess every document and leave the warehouse's corpus state untouched (default: incremental)", false)), Flag.withDefault(false)),
  warehouse: warehouseFlag,
  maxRecordBytes: maxRecordBytesFlag
}
export type CorpusArgs = ArgsOf<typeof corpusFlags>
