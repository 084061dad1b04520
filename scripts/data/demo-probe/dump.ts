/**
 * Tokenizes the demo sample for the learnability probe (probe.py): corpus, held-out text, general
 * prose, MCQA test items (the 0-shot prompt as fleuve renders it, and its question block alone,
 * with each option's continuation tokens), the MCQA pool as training examples, and cloze items
 * (a corpus or held-out sentence cut before the value, five values of the attribute as options).
 *
 *   node --import tsx scripts/data/demo-probe/dump.ts /tmp/probe.json
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import { loadTokenizer } from "../../../model/index.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../../operators/qa/loaders/manifest.ts"
import { mcqaContinuations, renderPrompt, trainingExample } from "../../../operators/qa/prompts/render.ts"
import { loadPromptSet } from "../../../operators/qa/prompts/templates.ts"
import { withA, withDe } from "../demo-sample/build.ts"
import { ATTRIBUTES, type EntityKind } from "../demo-sample/fact-base.ts"

const root = resolve(import.meta.dirname, "../../..")
const out = process.argv[2]
if (!out) throw new Error("usage: dump.ts OUT.json")
const tok = loadTokenizer(join(root, "data/demo-tokenizer/tokenizer.json"))
const jsonl = <A>(p: string): Array<A> => readFileSync(join(root, p), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as A)
const corpus = jsonl<{ id: string; text: string }>("data/corpus/demo.jsonl")
const heldOut = jsonl<{ id: string; text: string }>("data/corpus/demo-heldout.jsonl")
const facts = jsonl<{ entity: string; kind: EntityKind; attribute: string; value: string; key: string; split: string; docs: Array<string>; heldOutDocs: Array<string> }>("data/qa/facts.jsonl")
const prose = readFileSync(join(root, "data/general-fr/prose.txt"), "utf8").split("\n").filter((l) => l.trim() !== "")
const set = loadPromptSet()
const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
const mc = tasks.find((t) => t.task === "mcqa")!
const continuations = (prompt: string, conts: ReadonlyArray<string>) => {
  const p = tok.encode(prompt)
  return { prompt: p, conts: conts.map((c) => tok.encode(prompt + c).slice(p.length)) }
}
const items = mc.test.flatMap(({ item }) => {
  if (item.task !== "mcqa") return []
  const prompt = renderPrompt(set, item, [], 0).prompt
  const full = continuations(prompt, mcqaContinuations(set, item))
  const short = continuations(prompt.slice(prompt.indexOf("Question:")), mcqaContinuations(set, item))
  return [{ prompt: full.prompt, conts: full.conts, short: short.prompt, sconts: short.conts, gold: "ABCDE".indexOf(item.correct[0]!) }]
})
const train = mc.train.map(({ item }) => {
  const ex = trainingExample(set, item)
  return { prompt: tok.encode(ex.prompt), full: tok.encode(ex.prompt + ex.completion) }
})
const cloze = (docsOf: (f: (typeof facts)[number]) => Array<string>, texts: Map<string, string>) =>
  facts.flatMap((f) =>
    docsOf(f).slice(0, 1).flatMap((id) => {
      const sentence = texts.get(id)!.split(/(?<=[.!?])\s+|\n/).find((s) => s.includes(f.entity) && s.toLowerCase().includes(f.key.toLowerCase()))!
      const attr = ATTRIBUTES[f.kind].find((a) => a.name === f.attribute)!
      const forms = (v: string) => [withDe(v), withA(v), v, v.charAt(0).toUpperCase() + v.slice(1)]
      const form = forms(f.value).findIndex((x) => sentence.includes(x))
      const at = form < 0 ? -1 : sentence.indexOf(forms(f.value)[form]!)
      if (at < sentence.indexOf(f.entity) + f.entity.length) return [] // the value must follow the entity
      const prefix = sentence.slice(0, at).trimEnd()
      const options = [f.value, ...attr.values.filter((v) => v !== f.value).slice(0, 4)].map((v) => ` ${forms(v)[form]!}`)
      return [{ split: f.split, ...continuations(prefix, options), gold: 0 }]
    })
  )
writeFileSync(out, JSON.stringify({
  eos: tok.encode("<|endoftext|>"),
  vocab: 384,
  corpus: corpus.map((d) => tok.encode(d.text)),
  heldout: heldOut.map((d) => tok.encode(d.text)),
  prose: prose.map((l) => tok.encode(l)),
  items,
  train,
  clozeSeen: cloze((f) => f.docs, new Map(corpus.map((d) => [d.id, d.text]))),
  clozeHeld: cloze((f) => f.heldOutDocs, new Map(heldOut.map((d) => [d.id, d.text])))
}))
process.stderr.write(`${out}: ${items.length} MCQA items, ${corpus.length} documents\n`)
