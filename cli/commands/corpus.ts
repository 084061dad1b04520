import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { corpusFlags } from "../flags/corpus.ts"

export const corpusCommand = Command.make("corpus", corpusFlags, (args) => lazyHandler(() => import("../handlers/corpus.ts"), (h) => h.corpusHandler(args))).pipe(
  Command.withDescription(
    "Stream a corpus through normalisation, language id, PII scrubbing, quality filters, exact + MinHash dedup, tokenization and packing.\n" +
      "Incremental: documents whose content did not change since the last run are skipped; disappeared ones are retired (table corpus_documents).\n" +
      "Memory grows with the dedup index only (at most ~0.5 GB + 1.1 KB a kept document; 1.3 GB for 1 GB of input): decisions are staged in .fleuve-corpus-state-* beside the warehouse until the run's end.\n" +
      "Writes beside the shards the kept cleaned documents (<run id>-documents.jsonl.gz) and manifest.json (which file holds each current document, stale sequences).\n" +
      "Bad input (invalid UTF-8, a row over --max-record-bytes (default $FLEUVE_MAX_RECORD_BYTES, else 16 MiB), JSON nested deeper than 512 levels) becomes dead letters; symbolic links in a folder are followed."
  ),
  Command.withExamples([
    { command: "fleuve corpus data/corpus/sample.jsonl", description: "Process the sample corpus into out/corpus/*.arrow" },
    { command: "fleuve corpus notes/ --out shards --sequence-length 4096", description: "A folder of .txt files, 4096-token sequences" },
    { command: "fleuve corpus dump.jsonl.gz --config thresholds.json --full", description: "Custom thresholds, reprocess everything" },
    { command: "fleuve corpus notes/ --out shards --compact", description: "Incremental run, then compact shards so each current document is packed once" }
  ])
)
