/**
 * Deterministic generator of a French health corpus with planted problems, each recorded in a
 * manifest so tests and benchmarks can measure every operator: exact and near duplicates (with the
 * document they copy), foreign-language documents, junk, PII (with the planted values), clinical
 * decoys that must survive PII scrubbing, and mojibake.
 *
 *   npx tsx bench/corpus/generate.ts --docs 400 --out data/corpus          (the committed sample)
 *   npx tsx bench/corpus/generate.ts --bytes 1000000000 --out .cache/corpus-1g   (≥ 1 GB)
 *
 * Same seed and size → byte-identical output.
 */
import { createWriteStream } from "node:fs"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { mulberry32 } from "../../lib/random.ts"
import { CLINICAL_DECOYS, FOREIGN, type Genre, GENRES, JUNK, PII_LINES, SLOTS, TEMPLATES } from "./fragments.ts"

export type Kind = "original" | "exact-duplicate" | "near-duplicate" | "foreign" | "junk"

export interface ManifestEntry {
  readonly id: string
  readonly kind: Kind
  readonly lang: string
  readonly genre?: Genre
  /** For duplicates: the original they copy. */
  readonly duplicateOf?: string
  readonly junk?: string
  readonly pii: ReadonlyArray<{ readonly type: string; readonly value: string }>
  readonly decoys: ReadonlyArray<string>
  readonly mojibake: boolean
}

export interface GeneratedDoc {
  readonly id: string
  readonly text: string
  readonly manifest: ManifestEntry
}

export interface GeneratorOptions {
  readonly seed?: number
  /** Shares of each planted kind (the rest are French originals). */
  readonly rates?: Partial<Record<"exact" | "near" | "foreign" | "junk" | "pii" | "decoy" | "mojibake", number>>
}

const defaultRates = { exact: 0.04, near: 0.08, foreign: 0.06, junk: 0.05, pii: 0.12, decoy: 0.15, mojibake: 0.03 }

type Rng = () => number

const pickOf = (rng: Rng) => <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rng() * xs.length)]!

/** Fills {slot} and {a|b|c} from the innermost braces outwards. */
export const render = (template: string, rng: Rng, extra: Record<string, string> = {}): string => {
  const pick = pickOf(rng)
  let text = template
  const inner = /\{([^{}]*)\}/
  for (let m = inner.exec(text); m !== null; m = inner.exec(text)) {
    const body = m[1]!
    const value = body in extra ? extra[body]! : SLOTS[body] ? pick(SLOTS[body]!) : pick(body.split("|"))
    text = text.slice(0, m.index) + value + text.slice(m.index + m[0].length)
  }
  return text.replace(/\s+([.,])/g, "$1").replace(/ {2,}/g, " ")
}

const sentenceCount: Record<Genre, readonly [number, number]> = {
  "cas-clinique": [8, 13],
  notice: [7, 11],
  cours: [7, 11],
  recommandation: [6, 10],
  forum: [6, 9]
}

/** A French document of a genre: several templates, drawn without replacement, kept in their written order. */
const frenchDocument = (genre: Genre, rng: Rng): string => {
  const templates = TEMPLATES[genre]
  const [lo, hi] = sentenceCount[genre]
  const n = Math.min(templates.length, lo + Math.floor(rng() * (hi - lo + 1)))
  const chosen = new Set<number>()
  while (chosen.size < n) chosen.add(Math.floor(rng() * templates.length))
  const sentences = [...chosen].sort((a, b) => a - b).map((i) => render(templates[i]!, rng))
  // Paragraphs of two to four sentences, as real documents have.
  const paragraphs: Array<string> = []
  for (let i = 0; i < sentences.length;) {
    const k = 2 + Math.floor(rng() * 3)
    paragraphs.push(sentences.slice(i, i + k).join(" "))
    i += k
  }
  return paragraphs.join("\n\n")
}

const foreignDocument = (lang: keyof typeof FOREIGN, rng: Rng): string => {
  const templates = FOREIGN[lang]
  const n = Math.min(templates.length, 5 + Math.floor(rng() * 3))
  const chosen = new Set<number>()
  while (chosen.size < n) chosen.add(Math.floor(rng() * templates.length))
  return [...chosen].sort((a, b) => a - b).map((i) => render(templates[i]!, rng)).join(" ")
}

const digits = (rng: Rng, n: number) => Array.from({ length: n }, () => Math.floor(rng() * 10)).join("")
const pad = (n: number, w = 2) => String(n).padStart(w, "0")

export const makeNir = (rng: Rng): string => {
  const sex = 1 + Math.floor(rng() * 2)
  const year = pad(Math.floor(rng() * 100))
  const month = pad(1 + Math.floor(rng() * 12))
  const deptChoice = Math.floor(rng() * 20)
  const dept = deptChoice === 0 ? "2A" : deptChoice === 1 ? "2B" : pad(1 + Math.floor(rng() * 95))
  const dept2 = dept === "20" ? "21" : dept
  const commune = pad(1 + Math.floor(rng() * 998), 3)
  const order = pad(1 + Math.floor(rng() * 998), 3)
  const numeric = `${sex}${year}${month}${dept2 === "2A" ? "19" : dept2 === "2B" ? "18" : dept2}${commune}${order}`
  const key = pad(Number(97n - (BigInt(numeric) % 97n)))
  return rng() < 0.5 ? `${sex} ${year} ${month} ${dept2} ${commune} ${order} ${key}` : `${sex}${year}${month}${dept2}${commune}${order}${key}`
}

export const makeIban = (rng: Rng): string => {
  const bban = `${digits(rng, 5)}${digits(rng, 5)}${digits(rng, 11)}${digits(rng, 2)}`
  const numeric = `${bban}1527` + "00" // FR → 15 27, check digits 00
  const check = pad(Number(98n - (BigInt(numeric) % 97n)))
  const iban = `FR${check}${bban}`
  return iban.match(/.{1,4}/g)!.join(" ")
}

const makePhone = (rng: Rng): string => {
  const pairs = [`0${1 + Math.floor(rng() * 7)}`, ...Array.from({ length: 4 }, () => digits(rng, 2))]
  switch (Math.floor(rng() * 5)) {
    case 0:
      return pairs.join(" ")
    case 1:
      return pairs.join(".")
    case 2:
      return pairs.join("-")
    case 3:
      return `+33 ${pairs[0]!.slice(1)} ${pairs.slice(1).join(" ")}`
    default:
      return pairs.join("")
  }
}

const makeEmail = (rng: Rng): string => {
  const pick = pickOf(rng)
  const first = pick(["camille", "julien", "sophie", "nadia", "thomas", "elodie", "karim", "lucie", "hugo", "ines"])
  const last = pick(["martin", "bernard", "dubois", "moreau", "laurent", "garcia", "roux", "fournier", "girard", "bonnet"])
  const domain = pick(["gmail.com", "orange.fr", "chu-exemple.fr", "free.fr", "laposte.net", "hopital-exemple.fr"])
  return `${first}.${last}${rng() < 0.3 ? digits(rng, 2) : ""}@${domain}`
}

const makeDob = (rng: Rng): string => {
  const day = 1 + Math.floor(rng() * 28)
  const month = 1 + Math.floor(rng() * 12)
  const year = 1930 + Math.floor(rng() * 75)
  const months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
  return rng() < 0.5 ? `${pad(day)}/${pad(month)}/${year}` : `${day === 1 ? "1er" : day} ${months[month - 1]} ${year}`
}

const piiMakers: Record<string, (rng: Rng) => [string, string]> = {
  EMAIL: (rng) => ["email", makeEmail(rng)],
  TELEPHONE: (rng) => ["phone", makePhone(rng)],
  NIR: (rng) => ["nir", makeNir(rng)],
  IBAN: (rng) => ["iban", makeIban(rng)],
  DATE_NAISSANCE: (rng) => ["dob", makeDob(rng)]
}

const FILLERS = ["également", "notamment", "toutefois", "ensuite", "rapidement", "finalement", "aussi", "pourtant", "désormais", "alors"]

/** A near-duplicate: about one word in 80 replaced, and one sentence appended or removed. */
const nearCopy = (text: string, rng: Rng): string => {
  const pick = pickOf(rng)
  const words = text.split(" ")
  const changes = Math.max(1, Math.round(words.length / 80))
  for (let c = 0; c < changes; c++) {
    const i = Math.floor(rng() * words.length)
    if (!words[i]!.includes("\n")) words[i] = pick(FILLERS)
  }
  let out = words.join(" ")
  if (rng() < 0.5) out += `\n\n${pick(["Mise à jour du document : relu par l’équipe.", "Texte revu et complété.", "Document diffusé avec l’accord des auteurs.", "Dernière révision : voir la version en ligne."])}`
  else out = out.replace(/[^.!?]+[.!?]\s*$/, "").trim() || out
  return out
}

/** Extra whitespace that normalisation removes, so exact duplicates differ as read but not as normalised. */
const whitespaceCopy = (text: string, rng: Rng): string => (rng() < 0.5 ? text.replace(/\. /g, ".  ") : `${text}\n\n\n`)

const mojibake = (text: string) => new TextDecoder("windows-1252").decode(Buffer.from(text, "utf8"))

/** The corpus, document after document; infinite, so callers stop at a count or a size. */
export function* generateCorpus(options: GeneratorOptions = {}): Generator<GeneratedDoc> {
  const rng = mulberry32(options.seed ?? 20241125)
  const pick = pickOf(rng)
  const rates = { ...defaultRates, ...options.rates }
  // Recent originals that duplicates may copy: a bounded window keeps memory flat at any size.
  const recent: Array<{ id: string; text: string; genre: Genre }> = []
  for (let n = 0; ; n++) {
    const id = `doc-${String(n).padStart(7, "0")}`
    const r = rng()
    const base = { pii: [] as Array<{ type: string; value: string }>, decoys: [] as Array<string>, mojibake: false }
    let cut = rates.exact
    if (recent.length > 0 && r < cut) {
      const o = pick(recent)
      yield { id, text: whitespaceCopy(o.text, rng), manifest: { id, kind: "exact-duplicate", lang: "fr", genre: o.genre, duplicateOf: o.id, ...base } }
      continue
    }
    if (recent.length > 0 && r < (cut += rates.near)) {
      const o = pick(recent)
      yield { id, text: nearCopy(o.text, rng), manifest: { id, kind: "near-duplicate", lang: "fr", genre: o.genre, duplicateOf: o.id, ...base } }
      continue
    }
    if (r < (cut += rates.foreign)) {
      const lang = pick(["en", "es", "it", "de"] as const)
      yield { id, text: foreignDocument(lang, rng), manifest: { id, kind: "foreign", lang, ...base } }
      continue
    }
    if (r < (cut += rates.junk)) {
      const kind = pick(Object.keys(JUNK))
      yield { id, text: JUNK[kind]!(pick), manifest: { id, kind: "junk", lang: "fr", junk: kind, ...base } }
      continue
    }
    const genre = pick(GENRES)
    let text = frenchDocument(genre, rng)
    const pii: Array<{ type: string; value: string }> = []
    const decoys: Array<string> = []
    if (rng() < rates.pii) {
      const types = Object.keys(PII_LINES)
      const count = 1 + Math.floor(rng() * 2)
      for (let k = 0; k < count; k++) {
        const type = pick(types)
        const [slot, value] = piiMakers[type]!(rng)
        pii.push({ type, value })
        text += `\n\n${render(pick(PII_LINES[type]!), rng, { [slot]: value })}`
      }
    }
    if (rng() < rates.decoy) {
      const decoy = pick(CLINICAL_DECOYS)
      decoys.push(decoy)
      text += ` ${decoy}`
    }
    const corrupt = rng() < rates.mojibake
    if (!corrupt && pii.length === 0) {
      recent.push({ id, text, genre })
      if (recent.length > 200) recent.splice(Math.floor(rng() * recent.length), 1)
    }
    yield { id, text: corrupt ? mojibake(text) : text, manifest: { id, kind: "original", lang: "fr", genre, pii, decoys, mojibake: corrupt } }
  }
}

/** Writes corpus.jsonl and manifest.jsonl under `out`, stopping at `docs` documents or `bytes` of corpus. */
export const writeCorpus = async (out: string, limit: { docs?: number; bytes?: number }, options: GeneratorOptions = {}) => {
  mkdirSync(out, { recursive: true })
  const corpus = createWriteStream(join(out, "corpus.jsonl"))
  const manifest = createWriteStream(join(out, "manifest.jsonl"))
  let docs = 0
  let bytes = 0
  const write = (s: NodeJS.WritableStream, line: string) => (s.write(line) ? Promise.resolve() : new Promise<void>((r) => s.once("drain", () => r())))
  for (const d of generateCorpus(options)) {
    if ((limit.docs !== undefined && docs >= limit.docs) || (limit.bytes !== undefined && bytes >= limit.bytes)) break
    const line = `${JSON.stringify({ id: d.id, text: d.text })}\n`
    await write(corpus, line)
    await write(manifest, `${JSON.stringify(d.manifest)}\n`)
    docs++
    bytes += Buffer.byteLength(line)
  }
  await Promise.all([new Promise((r) => corpus.end(r)), new Promise((r) => manifest.end(r))])
  return { docs, bytes }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const out = arg("out") ?? ".cache/corpus-generated"
  const docs = arg("docs")
  const bytes = arg("bytes")
  const seed = arg("seed")
  const result = await writeCorpus(out, { ...(docs ? { docs: Number(docs) } : {}), ...(bytes ? { bytes: Number(bytes) } : {}) }, seed ? { seed: Number(seed) } : {})
  process.stderr.write(`wrote ${result.docs} documents, ${(result.bytes / 1e6).toFixed(1)} MB to ${out}/corpus.jsonl (+ manifest.jsonl)\n`)
}
