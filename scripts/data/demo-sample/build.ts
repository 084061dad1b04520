/**
 * Builds fleuve's demo sample from the fact base (fact-base.ts): a French health corpus that
 * states every fact three times in different words, and QA sets (MCQA, ExtQA, AbsQA) in the
 * loader formats fleuve reads (FrenchMedMCQA JSON, flat SQuAD, MediQAl oeq) whose test items ask
 * about facts of entities that no training item mentions.
 *
 * Pure and deterministic: the same seed gives the same bytes (no clock, no locale, one seeded
 * PRNG consumed in a fixed order). scripts/data/build-demo-sample.ts writes the files;
 * test/data/demo-sample.test.ts rebuilds them and compares.
 *
 * Design (docs/demo.md, "The sample"), at the demo sizes (DEMO_SIZES; ENMED_SIZES is the same
 * design at the EnMed card's test sizes, 350 entities, for full-size studies):
 * - 100 invented entities (50 medicines, 50 diseases) × 5 attributes = 500 facts;
 * - entities split 60 test / 40 train: test facts never reach a training pool, and the other way round;
 * - test: 40 entities → 200 MCQA items, 20 others → 100 AbsQA items (one item per fact), 50 of
 *   the 60 → 50 vignettes × 2 ExtQA questions; train pools likewise from the 40 train entities
 *   (100 MCQA, 100 AbsQA, 30 vignettes × 2 ExtQA);
 * - values are dealt evenly over each split's entities, MCQA distractors come from the same
 *   attribute, and the gold letter cycles evenly over A-E: knowing only which answers are
 *   frequent, or where they sit, scores at chance;
 * - corpus: 3 documents per entity (fiche, cours, forum), each stating all 5 facts, each fact
 *   with another of its attribute's paraphrase templates; held-out: 20 documents (one per
 *   entity, for 20 entities) with the remaining two templates, never trained on.
 */
import { mulberry32 } from "../../../lib/random.ts"
import { ATTRIBUTES, type Attribute, CASE_QUESTIONS, CASES, type EntityKind, GENRES, NAME_PARTS } from "./fact-base.ts"

export const DEMO_SAMPLE_SEED = 18

export interface Entity {
  readonly name: string
  readonly kind: EntityKind
  /** "le vélorane", "la trabirose" */
  readonly le: string
  readonly du: string
  readonly au: string
  readonly il: "il" | "elle"
  readonly split: "test" | "train"
  /** Which task's items ask about this entity's five facts. */
  readonly task: "mcqa" | "absqa"
  /** Whether an ExtQA vignette is written about it. */
  readonly extqa: boolean
}

export interface Fact {
  readonly id: string
  readonly entity: string
  readonly kind: EntityKind
  readonly attribute: string
  readonly value: string
  /** The value without its leading article: what a document or a span must contain. */
  readonly key: string
  readonly split: "test" | "train"
  /** The ids of the QA items that ask about it (MCQA or AbsQA, plus ExtQA questions). */
  readonly items: Array<string>
  /** The corpus documents that state it. */
  readonly docs: Array<string>
  readonly heldOutDocs: Array<string>
}

export interface DemoSample {
  /** Relative path (from the repository root) → file content. */
  readonly files: ReadonlyMap<string, string>
  readonly facts: ReadonlyArray<Fact>
  readonly entities: ReadonlyArray<Entity>
}

export const SAMPLE_PATHS = {
  corpus: "data/corpus/demo.jsonl",
  heldOut: "data/corpus/demo-heldout.jsonl",
  facts: "data/qa/facts.jsonl",
  mcqaTest: "data/qa/mcqa/test.jsonl",
  mcqaTrain: "data/qa/mcqa/train.jsonl",
  extqaTest: "data/qa/extqa/test.jsonl",
  extqaTrain: "data/qa/extqa/train.jsonl",
  absqaTest: "data/qa/absqa/test.jsonl",
  absqaTrain: "data/qa/absqa/train.jsonl"
} as const

const VOWEL_START = /^[aeiouyéèêàâîïôœh]/i

/** The value after "de", contracted as French writes it. */
export const withDe = (v: string): string => {
  if (v.startsWith("le ")) return `du ${v.slice(3)}`
  if (v.startsWith("les ")) return `des ${v.slice(4)}`
  if (v.startsWith("des ")) return VOWEL_START.test(v.slice(4)) ? `d'${v.slice(4)}` : `de ${v.slice(4)}`
  return VOWEL_START.test(v) ? `d'${v}` : `de ${v}`
}

/** The value after "à", contracted. */
export const withA = (v: string): string => (v.startsWith("le ") ? `au ${v.slice(3)}` : v.startsWith("les ") ? `aux ${v.slice(4)}` : `à ${v}`)

/** The value without its leading article. */
export const keyOf = (v: string): string => v.replace(/^(le |la |les |l'|un |une |des )/, "")

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

class Draw {
  private readonly rand: () => number
  constructor(seed: number) {
    this.rand = mulberry32(seed)
  }
  int(n: number) {
    return Math.floor(this.rand() * n)
  }
  pick<A>(xs: ReadonlyArray<A>): A {
    return xs[this.int(xs.length)]!
  }
  shuffle<A>(xs: ReadonlyArray<A>): Array<A> {
    const out = [...xs]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }
  /** n values covering `values` as evenly as possible, in random order. */
  deal<A>(values: ReadonlyArray<A>, n: number): Array<A> {
    return this.shuffle(Array.from({ length: n }, (_, i) => values[i % values.length]!))
  }
}

const fillEntity = (template: string, e: Entity, value?: string): string =>
  template
    .replaceAll("{Le}", capitalise(e.le))
    .replaceAll("{le}", e.le)
    .replaceAll("{du}", e.du)
    .replaceAll("{au}", e.au)
    .replaceAll("{il}", e.il)
    .replaceAll("{de v}", value === undefined ? "{de v}" : withDe(value))
    .replaceAll("{à v}", value === undefined ? "{à v}" : withA(value))
    .replaceAll("{V}", value === undefined ? "{V}" : capitalise(value))
    .replaceAll("{v}", value ?? "{v}")

const names = (draw: Draw, counts: { readonly drug: number; readonly disease: number }) => {
  const syllable = () => draw.pick(NAME_PARTS.onsets) + draw.pick(NAME_PARTS.vowels)
  const seen: Array<string> = []
  const fresh = (make: () => string) => {
    for (;;) {
      const n = make()
      // Unique, and no name inside another: a document about one never mentions another by accident.
      if (!seen.some((s) => s.includes(n.toLowerCase()) || n.toLowerCase().includes(s))) {
        seen.push(n.toLowerCase())
        return n
      }
    }
  }
  const drugs = Array.from({ length: counts.drug }, () => fresh(() => syllable() + syllable() + draw.pick(NAME_PARTS.drugEndings)))
  const diseases = Array.from({ length: counts.disease }, () => {
    const { ending, feminine } = draw.pick(NAME_PARTS.diseaseEndings)
    return { name: fresh(() => syllable() + draw.pick(NAME_PARTS.onsets) + ending), feminine }
  })
  return { drugs, diseases }
}

export interface Plan {
  readonly kind: EntityKind
  readonly split: "test" | "train"
  readonly task: "mcqa" | "absqa"
  readonly count: number
  readonly extqa: number
}

/** How many entities a sample has and what each is used for, and how many test items each task keeps. */
export interface SampleSizes {
  readonly name: string
  readonly plan: ReadonlyArray<Plan>
  /** Entities that get a held-out corpus document. */
  readonly heldOut: number
  /**
   * Test items kept per task: a prefix of the task's shuffled items (5 per entity for MCQA and
   * AbsQA, 2 per vignette for ExtQA), so a size that is no multiple of those can be met exactly.
   * Absent: all of them.
   */
  readonly testItems?: { readonly mcqa: number; readonly extqa: number; readonly absqa: number }
}

/** The demo sample: 100 entities (per kind: 50 = 20 + 10 test, 10 + 10 train). */
export const DEMO_SIZES: SampleSizes = {
  name: "demo",
  plan: (["drug", "disease"] as const).flatMap((kind) => [
    { kind, split: "test", task: "mcqa", count: 20, extqa: 17 },
    { kind, split: "test", task: "absqa", count: 10, extqa: 8 },
    { kind, split: "train", task: "mcqa", count: 10, extqa: 8 },
    { kind, split: "train", task: "absqa", count: 10, extqa: 7 }
  ] as const),
  heldOut: 20
}

/**
 * The EnMed card's test sizes (MCQA N=622, ExtQA N=207, AbsQA N=248), for studies at full size
 * (studies/enmed-qwen3-0.6b.yaml): 125 MCQA and 50 AbsQA test entities (625 and 250 items, cut to
 * 622 and 248), 104 ExtQA vignettes (208 questions, cut to 207), and training pools of the same
 * sizes from as many other entities (350 entities, 1050 corpus documents).
 */
export const ENMED_SIZES: SampleSizes = {
  name: "enmed",
  plan: [
    { kind: "drug", split: "test", task: "mcqa", count: 63, extqa: 40 },
    { kind: "drug", split: "test", task: "absqa", count: 25, extqa: 12 },
    { kind: "drug", split: "train", task: "mcqa", count: 63, extqa: 40 },
    { kind: "drug", split: "train", task: "absqa", count: 25, extqa: 12 },
    { kind: "disease", split: "test", task: "mcqa", count: 62, extqa: 40 },
    { kind: "disease", split: "test", task: "absqa", count: 25, extqa: 12 },
    { kind: "disease", split: "train", task: "mcqa", count: 62, extqa: 40 },
    { kind: "disease", split: "train", task: "absqa", count: 25, extqa: 12 }
  ],
  heldOut: 20,
  testItems: { mcqa: 622, extqa: 207, absqa: 248 }
}

export const SAMPLE_SIZES: ReadonlyArray<SampleSizes> = [DEMO_SIZES, ENMED_SIZES]

const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"

export const buildDemoSample = (seed: number = DEMO_SAMPLE_SEED, sizes: SampleSizes = DEMO_SIZES): DemoSample => {
  const draw = new Draw(seed)
  const countOf = (kind: EntityKind) => sizes.plan.filter((p) => p.kind === kind).reduce((n, p) => n + p.count, 0)
  const { drugs, diseases } = names(draw, { drug: countOf("drug"), disease: countOf("disease") })

  // Entities, in plan order; then their facts, values dealt evenly per split and kind.
  const entities: Array<Entity> = []
  let d = 0
  let s = 0
  for (const p of sizes.plan) {
    for (let i = 0; i < p.count; i++) {
      const extqa = i < p.extqa
      if (p.kind === "drug") {
        const name = drugs[d++]!
        entities.push({ name, kind: "drug", le: `le ${name}`, du: `du ${name}`, au: `au ${name}`, il: "il", split: p.split, task: p.task, extqa })
      } else {
        const { name, feminine } = diseases[s++]!
        entities.push(feminine
          ? { name, kind: "disease", le: `la ${name}`, du: `de la ${name}`, au: `à la ${name}`, il: "elle", split: p.split, task: p.task, extqa }
          : { name, kind: "disease", le: `le ${name}`, du: `du ${name}`, au: `au ${name}`, il: "il", split: p.split, task: p.task, extqa })
      }
    }
  }
  const values = new Map<string, string>() // `${entity}\0${attribute}` → value
  const facts: Array<Fact> = []
  for (const split of ["test", "train"] as const) {
    for (const kind of ["drug", "disease"] as const) {
      const group = entities.filter((e) => e.split === split && e.kind === kind)
      for (const a of ATTRIBUTES[kind]) {
        const dealt = draw.deal(a.values, group.length)
        group.forEach((e, i) => values.set(`${e.name}\0${a.name}`, dealt[i]!))
      }
    }
  }
  const factOf = new Map<string, Fact>()
  for (const e of entities) {
    for (const a of ATTRIBUTES[e.kind]) {
      const value = values.get(`${e.name}\0${a.name}`)!
      const f: Fact = { id: `F${String(facts.length + 1).padStart(3, "0")}`, entity: e.name, kind: e.kind, attribute: a.name, value, key: keyOf(value), split: e.split, items: [], docs: [], heldOutDocs: [] }
      facts.push(f)
      factOf.set(`${e.name}\0${a.name}`, f)
    }
  }
  const fact = (e: Entity, a: Attribute | string) => factOf.get(`${e.name}\0${typeof a === "string" ? a : a.name}`)!

  // Corpus: per entity three documents, one per genre; each attribute's five templates are shuffled,
  // the first three go to the three documents and the last two to the held-out text.
  interface Draft {
    readonly entity: Entity
    readonly text: string
    readonly facts: ReadonlyArray<Fact>
  }
  const drafts: Array<Draft> = []
  const heldOutDrafts: Array<Draft> = []
  const heldOutEntities = new Set(draw.shuffle(entities.map((e) => e.name)).slice(0, sizes.heldOut))
  for (const e of entities) {
    const attributes = ATTRIBUTES[e.kind]
    const orders = attributes.map((a) => draw.shuffle(a.corpus))
    const genres = draw.shuffle(GENRES)
    const doc = (genre: (typeof GENRES)[number], templateOf: (i: number) => string) => {
      const sentences = draw.shuffle(attributes.map((a, i) => fillEntity(templateOf(i), e, fact(e, a).value)))
      const text = `${fillEntity(draw.pick(genre.title), e)}\n${draw.pick(genre.opening)} ${sentences.join(" ")} ${draw.pick(genre.closing)}`
      return { entity: e, text, facts: attributes.map((a) => fact(e, a)) }
    }
    genres.forEach((genre, j) => drafts.push(doc(genre, (i) => orders[i]![j]!)))
    if (heldOutEntities.has(e.name)) heldOutDrafts.push(doc(genres[0]!, (i) => orders[i]![3 + (draw.int(2))]!))
  }
  const corpus = draw.shuffle(drafts).map((x, i) => {
    const id = `demo-${String(i + 1).padStart(4, "0")}`
    for (const f of x.facts) f.docs.push(id)
    return { id, text: x.text }
  })
  const heldOut = heldOutDrafts.map((x, i) => {
    const id = `demo-heldout-${String(i + 1).padStart(2, "0")}`
    for (const f of x.facts) f.heldOutDocs.push(id)
    return { id, text: x.text }
  })

  // MCQA and AbsQA: one item per fact of the entities given to the task; items shuffled so any
  // prefix (the demo's --quick cut) mixes entities and attributes.
  const LETTERS = "abcde"
  const mcqa = (split: "test" | "train") => {
    const rows = entities.filter((e) => e.split === split && e.task === "mcqa").flatMap((e) =>
      ATTRIBUTES[e.kind].map((a) => ({ e, a, f: fact(e, a) }))
    )
    const gold = draw.deal([0, 1, 2, 3, 4], rows.length)
    return draw.shuffle(rows.map((r, i) => ({ ...r, gold: gold[i]! }))).map(({ e, a, f, gold }, i) => {
      const id = split === "test" ? `mcqa-${String(i + 1).padStart(4, "0")}` : `mcqa-train-${String(i + 1).padStart(4, "0")}`
      const distractors = draw.shuffle(a.values.filter((v) => v !== f.value)).slice(0, 4)
      const options = [...distractors.slice(0, gold), f.value, ...distractors.slice(gold)]
      return {
        f,
        item: {
          id,
          question: fillEntity(draw.pick(a.questions), e),
          answers: Object.fromEntries(options.map((o, k) => [LETTERS[k]!, o])),
          correct_answers: [LETTERS[gold]!],
          type: "simple",
          nbr_correct_answers: 1
        }
      }
    })
  }
  const absqa = (split: "test" | "train") => {
    const rows = entities.filter((e) => e.split === split && e.task === "absqa").flatMap((e) => ATTRIBUTES[e.kind].map((a) => ({ e, a, f: fact(e, a) })))
    return draw.shuffle(rows).map(({ e, a, f }, i) => {
      const id = split === "test" ? `absqa-${String(i + 1).padStart(4, "0")}` : `absqa-train-${String(i + 1).padStart(4, "0")}`
      return { f, item: { id, question: fillEntity(draw.pick(a.questions), e), answer: f.value } }
    })
  }

  // ExtQA: one vignette per chosen entity, two questions about two of the facts it states.
  const extqa = (split: "test" | "train") => {
    const chosen = draw.shuffle(entities.filter((e) => e.split === split && e.extqa))
    return chosen.flatMap((e, c) => {
      const template = draw.pick(CASES.filter((t) => t.kind === e.kind)).text
      const woman = draw.int(2) === 0
      const patient = `${woman ? "Mme" : "M."} ${draw.pick("BCDFGHJLMNPRSTV".split(""))}.`
      const age = 18 + draw.int(70)
      const pronoun = woman ? "elle" : "il"
      const slots: Record<string, string> = { P: patient, Pil: capitalise(pronoun), pil: pronoun, pe: woman ? "e" : "", age: String(age), le: e.le, Le: capitalise(e.le), du: e.du }
      // Render slot by slot, remembering where each attribute's key lands.
      const spans = new Map<string, number>()
      let context = ""
      for (const part of template.split(/(\{[^}]+\})/)) {
        const m = /^\{(de )?([^}]+)\}$/.exec(part)
        if (!m) {
          context += part
          continue
        }
        const [, de, name] = m
        const attribute = ATTRIBUTES[e.kind].find((a) => a.name === name!.toLowerCase())
        if (!attribute) {
          context += slots[name!] ?? part
          continue
        }
        const value = fact(e, attribute).value
        const rendered = de ? withDe(value) : name![0] === name![0]!.toUpperCase() ? capitalise(value) : value
        const key = keyOf(value)
        const at = rendered.toLowerCase().lastIndexOf(key.toLowerCase())
        spans.set(attribute.name, context.length + at)
        context += rendered
      }
      const asked = draw.shuffle([...spans.keys()]).slice(0, 2).sort((a, b) => spans.get(a)! - spans.get(b)!)
      return asked.map((name, q) => {
        const id = `${split === "test" ? "extqa" : "extqa-train"}-c${String(c + 1).padStart(2, "0")}-q${q + 1}`
        const f = fact(e, name)
        const start = spans.get(name)!
        let question = CASE_QUESTIONS[name]!
        for (const [k, v] of Object.entries(slots)) question = question.replaceAll(`{${k}}`, v)
        return { f, item: { id, context, question, answers: { text: [context.slice(start, start + f.key.length)], answer_start: [start] } } }
      })
    })
  }

  // A task's items, cut to the size's test count (a prefix of the shuffled items); each kept item
  // is listed on its fact.
  const kept = (rows: ReadonlyArray<{ readonly f: Fact; readonly item: { readonly id: string } }>, n: number | undefined) =>
    rows.slice(0, n).map(({ f, item }) => {
      f.items.push(item.id)
      return item
    })
  const files = new Map<string, string>()
  files.set(SAMPLE_PATHS.mcqaTest, jsonl(kept(mcqa("test"), sizes.testItems?.mcqa)))
  files.set(SAMPLE_PATHS.mcqaTrain, jsonl(kept(mcqa("train"), undefined)))
  files.set(SAMPLE_PATHS.absqaTest, jsonl(kept(absqa("test"), sizes.testItems?.absqa)))
  files.set(SAMPLE_PATHS.absqaTrain, jsonl(kept(absqa("train"), undefined)))
  files.set(SAMPLE_PATHS.extqaTest, jsonl(kept(extqa("test"), sizes.testItems?.extqa)))
  files.set(SAMPLE_PATHS.extqaTrain, jsonl(kept(extqa("train"), undefined)))
  files.set(SAMPLE_PATHS.corpus, jsonl(corpus))
  files.set(SAMPLE_PATHS.heldOut, jsonl(heldOut))
  files.set(SAMPLE_PATHS.facts, jsonl(facts))
  return { files, facts, entities }
}
