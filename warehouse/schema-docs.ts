/**
 * What every warehouse table and column means: the one source of the `COMMENT ON` statements the
 * warehouse applies (so `duckdb_columns()`, `DESCRIBE` and any SQL client show the meaning), of
 * README's "Warehouse tables" and of docs/warehouse.md (both generated from here by
 * `node --import tsx scripts/docs/warehouse-tables.ts`; test/warehouse/schema-docs.test.ts checks
 * that every table and column has a comment, that nothing documented is gone, and that the Markdown
 * matches). A new column is documented here in the same change that adds it.
 */

export interface TableDoc {
  /** Where it comes from: a migration number, or the command that (re)creates it. */
  readonly origin: string
  readonly kind: "table" | "view"
  /** The key, as README shows it; "" for none. */
  readonly key: string
  readonly comment: string
  readonly columns: Readonly<Record<string, string>>
}

const ITEM_KEY = {
  task: "Task name (e.g. mcqa, extqa, absqa, or an imported task).",
  shots: "Number of few-shot exemplars in the prompt (0, 3, 5).",
  item_id: "Item identifier within the dataset.",
  dataset_version: "Dataset version the item belongs to (content hash, or 'unversioned' when imported without one); the same item_id in another version is another item."
} as const

const SCORE_COLUMNS = {
  system: "System (model + adapter) that produced the prediction.",
  ...ITEM_KEY,
  metric: "Metric name (acc, acc_norm, acc_bytes, hamming, emr, f1, em, judge, score, ...); see table metrics for its direction.",
  score: "Item-level score in that metric (acc/em/f1 in [0, 1]; judge 1 to 5).",
  judge: "Judge that produced the score (judge metric only), else NULL.",
  run_id: "Run that landed the row (table runs).",
  source: "Where the row came from: file:line, or topic[partition]@offset.",
  created_at: "When the row landed."
} as const

export const SCHEMA_DOCS: Readonly<Record<string, TableDoc>> = {
  schema_migrations: {
    origin: "warehouse", kind: "table", key: "version",
    comment: "Migrations applied to this warehouse, once each, with a checksum (an edited migration is refused).",
    columns: { version: "Migration number (NNNN of NNNN_name.sql).", name: "Migration file name.", checksum: "First 16 hex digits of the file's sha256 when applied.", applied_at: "When it was applied." }
  },
  runs: {
    origin: "0001", kind: "table", key: "run_id",
    comment: "One row per fleuve command run that writes to the warehouse.",
    columns: {
      run_id: "Run identifier.", command: "The fleuve command line (import-scores, corpus, worker land-scores --pipeline P, ...).", started_at: "Start time.",
      finished_at: "End time; NULL while running.",
      status: "running | succeeded | failed | interrupted (stopped by a signal, or its process found gone at the next start).",
      args: "The command's arguments (JSON, secrets redacted).", summary: "The run's counts (JSON); error of a failed run (redacted).",
      pid: "Process id that ran it (migration 0006).", host: "Host name of that process: a running run whose process on this host is gone is marked interrupted."
    }
  },
  systems: {
    origin: "0001", kind: "table", key: "system",
    comment: "Evaluated systems: a base model, revision and optional adapter.",
    columns: { system: "System name as it appears in scores.", model_id: "Base model id (e.g. Qwen/Qwen3-14B).", model_revision: "Model revision (commit or hash).", adapter_hash: "Hash of the LoRA adapter, NULL for none.", description: "Free text.", created_at: "When it was registered." }
  },
  datasets: {
    origin: "0001", kind: "table", key: "dataset, version",
    comment: "Dataset versions loaded: version is the content hash of the items.",
    columns: { dataset: "Dataset name.", version: "Content hash of the dataset's items.", task: "Task it feeds.", item_count: "Items in this version.", source: "File or URL it was read from.", created_at: "When it was loaded." }
  },
  items: {
    origin: "0001", kind: "table", key: "task, item_id, dataset_version",
    comment: "QA items by dataset version, with their full content.",
    columns: { task: ITEM_KEY.task, item_id: ITEM_KEY.item_id, dataset_version: ITEM_KEY.dataset_version, content_hash: "Hash of the item's content: a change re-evaluates it.", payload: "The item as JSON (question, context, options, gold answer, ...).", retired: "True once the item left the dataset (its scores move to score_history)." }
  },
  predictions: {
    origin: "0001", kind: "table", key: "system, task, shots, item_id, dataset_version",
    comment: "The prediction each system made for each item and shot count (the latest; every one ever made is in prediction_cache).",
    columns: {
      system: SCORE_COLUMNS.system, ...ITEM_KEY,
      cache_key: "Key into prediction_cache: hash of model id + revision, adapter, prompt, decoding, dataset version and item.",
      model_id: "Base model id.", model_revision: "Model revision.", adapter_hash: "Adapter hash, NULL for none.", prompt_hash: "Hash of the prompt.", decoding_hash: "Hash of the decoding settings.",
      output: "Generated answer, or the chosen option for log-likelihood scoring.", options: "Per option: log-likelihood, tokens, characters, bytes, greedy (JSON).", created_at: "When it was predicted."
    }
  },
  metrics: {
    origin: "0001", kind: "table", key: "metric",
    comment: "Metrics and their direction, so analyses never guess whether higher is better.",
    columns: { metric: "Metric name as in scores.metric.", higher_is_better: "True when a higher score is better.", description: "What the metric measures." }
  },
  scores: {
    origin: "0001", kind: "table", key: "system, task, shots, item_id, dataset_version, metric",
    comment: "Item-level scores: one row per system, cell, item and metric. Several metrics per item (acc and acc_norm, f1 and em): average within one metric, or use the view scores_primary.",
    columns: SCORE_COLUMNS
  },
  dead_letters: {
    origin: "0001", kind: "table", key: "dead_letter_id",
    comment: "Rejected records with their reason and position: bad input never vanishes.",
    columns: {
      dead_letter_id: "Hash of operator, position, reason and record: re-running adds no duplicate.", run_id: "Run that rejected it.", operator: "Operator that rejected it.", reason: "Why it was rejected.",
      field: "Offending field, when one.", position: "file:line, or topic[partition]@offset.", record: "The record as read.", created_at: "When it was rejected."
    }
  },
  prediction_cache: {
    origin: "0002", kind: "table", key: "cache_key",
    comment: "Every prediction ever made, by cache key: a lookup only returns the answer of the very model, prompt and item asked for.",
    columns: {
      cache_key: "Hash of model id + revision, adapter, prompt, decoding, dataset, item content and continuations.", model_id: "Base model id.", model_revision: "Model revision.", adapter_hash: "Adapter hash ('' for none).",
      kind: "loglikelihood | generate.", task: ITEM_KEY.task, shots: ITEM_KEY.shots, item_id: ITEM_KEY.item_id, item_hash: "Content hash of the item.", dataset_version: ITEM_KEY.dataset_version,
      prompt_hash: "Hash of the prompt.", decoding_hash: "Hash of the decoding settings.", output: "Generated text, or the chosen option.",
      options: "Per option: logprob, tokens, chars, bytes, greedy (JSON).", truncated_tokens: "Prompt tokens cut to fit the context, if any.", created_at: "When it was computed."
    }
  },
  judgements: {
    origin: "0002", kind: "table", key: "cache_key, judge, item_order",
    comment: "LLM-as-judge verdicts on predictions, per judge and presentation order.",
    columns: {
      cache_key: "The judged prediction (prediction_cache.cache_key).", judge: "Judge identity (model and prompt).", judge_kind: "offline-reference | openai-compatible | local-model.",
      item_order: "reference-first | answer-first (order-invariance check).", score: "Verdict, 1 to 5.", raw: "The judge's raw verdict text.", created_at: "When it was judged."
    }
  },
  score_history: {
    origin: "0002", kind: "table", key: "",
    comment: "Scores replaced by a re-evaluation or retired with their item: kept, never deleted.",
    columns: { ...SCORE_COLUMNS, created_at: "When the replaced row had landed.", superseded_at: "When it was replaced or retired.", superseded_by: "Run that replaced or retired it.", reason: "changed | retired." }
  },
  item_history: {
    origin: "0002", kind: "table", key: "dataset, item_id, content_hash",
    comment: "Each content hash an item has had, so a change can be traced.",
    columns: { dataset: "Dataset name.", item_id: ITEM_KEY.item_id, content_hash: "A content hash the item had.", first_seen: "When that content was first seen.", run_id: "Run that saw it first." }
  },
  score_judges: {
    origin: "0002", kind: "view", key: "",
    comment: "scores with the kind of judge that produced each judged score.",
    columns: { ...SCORE_COLUMNS, judge_kind: "offline-reference | openai-compatible | local-model | other; NULL for unjudged metrics." }
  },
  studies: {
    origin: "0008", kind: "table", key: "run_id",
    comment: "One row per `fleuve study` run: the study file as it was run, its resolved plan and the versions of everything.",
    columns: {
      run_id: "The study's run (table runs).", study: "The study's name (its `name` key).", file: "Path of the study file.",
      content: "The study file's text as it was run.", plan: "The resolved plan: every step, its dependencies, key and settings (JSON, secrets redacted).",
      versions: "Versions of fleuve, Node, DuckDB, tfjs, Effect and the git commit when known (JSON).", recorded_at: "When the run started."
    }
  },
  study_steps: {
    origin: "0008", kind: "table", key: "study, step, key",
    comment: "Each step of a study with the key of its inputs and settings: a step whose key succeeded before is not run again.",
    columns: {
      study: "The study's name.", step: "Step id: corpus, base, nf4:<model>, train:<stage>, score:<system>, import:<system>, heldout, analyze, report.",
      key: "SHA-256 of the step's settings, the identity of its input files, the keys of the steps it reads and its code version.",
      status: "running | succeeded | failed | interrupted.", study_run_id: "The `study` run that ran the step.", run_id: "The step's own run (table runs).",
      output: "The step's folder (models, shards), NULL for steps that only write the warehouse.",
      started_at: "Start time.", finished_at: "End time.", seconds: "Wall time in seconds.", summary: "What the step did: losses, tokens/s, requests scored (JSON)."
    }
  },
  corpus_documents: {
    origin: "0003", kind: "table", key: "doc_id",
    comment: "Incremental corpus state: one row per document ever seen, so a re-run processes only new or changed documents and retires vanished ones.",
    columns: {
      doc_id: "Document id (from the input, or file:line).", content_hash: "sha256 of the normalised text.", source: "file:line it was last read from.",
      status: "kept | dropped | duplicate | rejected.", reason: "Why it was not kept (\"language en\", \"near duplicate\", a quality rule, ...).", duplicate_of: "The kept document it duplicates.",
      lang: "Language identified (set for every document that reached language id, kept or dropped).", lang_score: "Language-id confidence of that language.",
      tokens: "Tokens of the kept document.",
      similarity: "Duplicates: estimated Jaccard similarity of 5-word shingles to duplicate_of (1 for exact duplicates; near duplicates: (matching LSH bands / bands)^(1/rows), migration 0005).", lsh_bands: "MinHash LSH band keys (base 36, comma-separated), kept documents only.",
      first_run: "Run that first saw it.", last_run: "Run that last (re)processed it.", retired: "True once it disappeared from the input.", retired_run: "Run that retired it.", updated_at: "Last change."
    }
  },
  task_primary_metrics: {
    origin: "0004", kind: "view", key: "task",
    comment: "Each task's primary metric (acc, then f1, then judge, then score, then alphabetical) and its direction.",
    columns: { task: ITEM_KEY.task, metric: "The task's primary metric.", higher_is_better: "Direction from table metrics; NULL when the metric is unknown there." }
  },
  scores_primary: {
    origin: "0004", kind: "view", key: "system, task, shots, item_id, dataset_version",
    comment: "scores restricted to each task's primary metric: one row per item, safe to average.",
    columns: SCORE_COLUMNS
  },
  heldout_loss: {
    origin: "0007", kind: "table", key: "system, texts_hash, seq_len",
    comment: "Each system's loss on held-out text it was not trained on (mean next-token NLL over the texts packed into sequences); measuring again replaces the row.",
    columns: {
      system: SCORE_COLUMNS.system,
      texts_hash: "sha256 of the texts, in order, NUL-separated: the same texts always have the same hash.",
      seq_len: "Tokens per packed sequence (documents joined by end-of-text, the shorter tail dropped).",
      texts_source: "Where the texts came from (a file), NULL when not said.",
      model_id: "Base model id.", model_revision: "Model revision.", adapter_hash: "Adapter hash, 'none' for none.",
      texts: "Texts (documents) measured.", sequences: "Packed sequences they made.", tokens: "Tokens predicted: seq_len - 1 per sequence.",
      mean_nll: "Mean negative log-likelihood per predicted token, in nats (lower is better).", perplexity: "exp(mean_nll).",
      run_id: "Run that measured it (table runs), NULL outside a run.", created_at: "When it was measured."
    }
  },
  cell_scores: {
    origin: "fleuve analyze", kind: "table", key: "task, shots, system",
    comment: "Per cell (task, shots) and system: item count, mean and std of the analysed metric.",
    columns: { task: ITEM_KEY.task, shots: ITEM_KEY.shots, system: SCORE_COLUMNS.system, n: "Items scored in the cell.", mean: "Mean item score.", std: "Standard deviation, ddof = 1 (NULL for one item)." }
  },
  paired_tests: {
    origin: "fleuve analyze", kind: "table", key: "task, shots, system, test",
    comment: "One row per candidate × cell × test (t, wilcoxon, mcnemar, bootstrap) against the reference, on the items both systems have.",
    columns: {
      task: ITEM_KEY.task, shots: ITEM_KEY.shots, system: "The candidate system.", reference: "The reference system.", test: "t | wilcoxon | mcnemar | bootstrap.", n: "Items both systems have.",
      mean_diff: "Mean of candidate − reference.", statistic: "t; Wilcoxon min(W+, W−); McNemar b.", df: "t only: n − 1.", p_value: "Two-sided p-value.",
      ci_low: "t: t-quantile 95% CI; bootstrap: percentile 95% CI.", ci_high: "Upper end of that CI.", p_bh: "Benjamini–Hochberg adjusted p over the family.", p_bonferroni: "min(1, m·p) over the family.",
      nonzero: "Wilcoxon: non-zero differences.", b: "McNemar: candidate right, reference wrong.", c: "McNemar: candidate wrong, reference right.", note: "The degenerate-cell rule that applied, else NULL."
    }
  },
  normalized_scores: {
    origin: "fleuve analyze", kind: "table", key: "task, shots, system",
    comment: "Per cell, min–max normalised cell means over every system of the cell: worst 0, best 1; all tied → 1.",
    columns: { task: ITEM_KEY.task, shots: ITEM_KEY.shots, system: SCORE_COLUMNS.system, score: "Cell mean.", normalized: "Normalised score in [0, 1]." }
  },
  ranking_coverage: {
    origin: "fleuve analyze", kind: "table", key: "scope, shots, system",
    comment: "Which cells each ranking uses: the shared grid is the cells more than half of the systems have; systems lacking some are reported apart.",
    columns: {
      scope: "global (cells are task × shots; global_ranking) | friedman (per shot count, cells are tasks; avg_ranks, friedman).", shots: "Shot count for scope friedman, NULL for global.",
      system: SCORE_COLUMNS.system, cells: "Cells the system has in this scope.", grid_cells: "Cells of the shared grid it has.", grid_size: "Cells in the shared grid.", ranked: "True when it has every cell of the shared grid."
    }
  },
  global_ranking: {
    origin: "fleuve analyze", kind: "table", key: "system",
    comment: "Mean ± std (ddof = 1) of normalised scores over the shared grid, renormalised among ranked systems; rank 1 = best, ties averaged.",
    columns: {
      system: SCORE_COLUMNS.system, mean: "Mean normalised score over the shared grid (NULL when not ranked).", std: "Its standard deviation, ddof = 1.", rank: "1 = best, ties averaged; NULL when not ranked.",
      cells: "Cells the system has.", grid_cells: "Cells of the shared grid it has.", grid_size: "Cells in the shared grid.", ranked: "True when it has every cell of the shared grid."
    }
  },
  best_per_cell: {
    origin: "fleuve analyze", kind: "table", key: "task, shots, system",
    comment: "The best system of each cell by mean; every tied system gets a row.",
    columns: { task: ITEM_KEY.task, shots: ITEM_KEY.shots, system: "A best system of the cell.", score: "Its cell mean." }
  },
  avg_ranks: {
    origin: "fleuve analyze", kind: "table", key: "shots, system",
    comment: "Per shot count, each ranked system's rank within each task (1 = best, ties averaged) averaged over the shared tasks.",
    columns: { shots: ITEM_KEY.shots, system: SCORE_COLUMNS.system, avg_rank: "Average rank over the tasks." }
  },
  friedman: {
    origin: "fleuve analyze", kind: "table", key: "shots",
    comment: "Friedman test per shot count, Iman–Davenport F and the Nemenyi critical difference; note says when N < 3 or blocks are incomplete.",
    columns: {
      shots: ITEM_KEY.shots, k: "Systems ranked.", n: "Tasks (blocks).", chi2: "Tie-corrected Friedman χ² (NULL when k < 2).", p_value: "p from χ²(k − 1).",
      iman_davenport_f: "Iman–Davenport F (NULL when n < 2).", iman_davenport_p: "p of that F.", cd: "Nemenyi critical difference at --alpha.", note: "Caveats (N < 3, incomplete blocks, no test); NULL for a full result."
    }
  },
  significance_record: {
    origin: "fleuve analyze", kind: "table", key: "system",
    comment: "Per candidate, wins and losses against the reference over its t-test rows.",
    columns: {
      system: "The candidate system.", sig_wins: "Cells with p < α in the better direction.", sig_losses: "Cells with p < α in the worse direction.", bh_wins: "Wins still significant after BH.",
      bh_losses: "Losses still significant after BH.", numeric_wins: "Cells with a positive mean gain.", numeric_losses: "Cells with a negative mean gain."
    }
  }
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`

/**
 * The COMMENT ON statements that bring the comments of the tables present to SCHEMA_DOCS, given
 * the comments they have now (only differences: nothing to do on a warehouse already documented).
 */
export const commentStatements = (
  present: ReadonlyArray<{ table: string; column: string | null; kind: string; comment: string | null }>
): Array<string> => {
  const out: Array<string> = []
  for (const p of present) {
    const doc = SCHEMA_DOCS[p.table]
    if (!doc) continue
    const want = p.column === null ? doc.comment : doc.columns[p.column]
    if (want === undefined || want === p.comment) continue
    out.push(p.column === null
      ? `COMMENT ON ${p.kind === "view" ? "VIEW" : "TABLE"} ${ident(p.table)} IS ${quote(want)}`
      : `COMMENT ON COLUMN ${ident(p.table)}.${ident(p.column)} IS ${quote(want)}`)
  }
  return out
}

/** README's "Warehouse tables" block: one row per table, its key and columns. */
export const readmeTables = (): string => {
  const rows = Object.entries(SCHEMA_DOCS).map(([name, d]) =>
    `| ${d.kind === "view" ? "view " : ""}\`${name}\` | ${d.origin} | ${d.key ? `\`${d.key}\`` : "–"} | ${d.comment} Columns: ${Object.keys(d.columns).map((c) => `\`${c}\``).join(", ")} |`
  )
  return ["| table | from | key | what it holds |", "|---|---|---|---|", ...rows].join("\n")
}

/** docs/warehouse.md's body: every table with every column's meaning. */
export const columnDocs = (): string =>
  Object.entries(SCHEMA_DOCS).map(([name, d]) =>
    [`### ${d.kind === "view" ? "view " : ""}\`${name}\` (${d.origin})`, "", d.comment, "", "| column | meaning |", "|---|---|",
      ...Object.entries(d.columns).map(([c, m]) => `| \`${c}\` | ${m.replace(/\|/g, "\\|")} |`)].join("\n")
  ).join("\n\n")
