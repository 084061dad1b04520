import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { importScoresFlags } from "../flags/import-scores.ts"

export const importScoresCommand = Command.make("import-scores", importScoresFlags, (args) => lazyHandler(() => import("../handlers/import-scores.ts"), (h) => h.importScoresHandler(args))).pipe(
  Command.withDescription(
    "Land item-level scores in the warehouse. Strict: one bad row fails the whole import unless --keep-going; a file with no rows fails too.\n" +
      "A record over --max-record-bytes (default $FLEUVE_MAX_RECORD_BYTES, else 16 MiB) or JSON nested deeper than 512 levels is a bad row, never a stall or a crash."
  ),
  Command.withExamples([
    { command: "fleuve import-scores results.csv", description: "Import, failing on the first bad row (nothing lands)" },
    { command: "fleuve import-scores results.jsonl --keep-going", description: "Land valid rows; bad ones go to dead_letters" }
  ])
)
