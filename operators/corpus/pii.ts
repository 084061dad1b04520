import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { analysisOf, normalisedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

export const PII_TYPES = ["EMAIL", "TELEPHONE", "NIR", "IBAN", "DATE_NAISSANCE"] as const
export type PiiType = (typeof PII_TYPES)[number]

export const placeholder = (type: PiiType) => `[${type}]`

const EMAIL = /[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}/g

/**
 * French phone numbers: +33 / 0033 / 0 then nine digits in pairs, separated by nothing, spaces,
 * dots or dashes ("01 23 45 67 89", "06.12.34.56.78", "+33 6 12 34 56 78", "+33 (0)1 23 45 67 89").
 * Technical text is full of digit runs that have this shape (runlevels "0123456789S", hex masks
 * "3f010000 1000", sector counts), so: the number must stand alone as a word (no letter, digit or
 * "_" glued on either side, no further ".NN" or "-NN" group after it), one separator is used
 * throughout, and a national number written without separators ("0612345678") counts only after a
 * phone cue (tél., téléphone, portable, appeler, joindre, fax, ...) within the 40 characters
 * before it. test/corpus/pii.test.ts measures precision and recall on a labelled sample.
 */
const PHONE = /(?<![\p{L}\p{N}_+])((?:\+|00)33[ .-]?(?:\(0\)[ .-]?)?|0)[1-9]([ .-]?)\d{2}(?:\2\d{2}){3}(?![\p{L}\p{N}_]|[.-]\d)/gu
const PHONE_CUE = /(?:t[ée]l[ée]?(?:phone)?|phone|portable|mobile|fax|appel|joign|joindre|contact|num[ée]ro)\P{L}*(?:\p{L}+\P{L}*){0,4}$/iu

/**
 * NIR (numéro de sécurité sociale): sex, year, month, department (2A/2B for Corsica), commune,
 * order, then a two-digit key = 97 − (number mod 97), with 2A → 19 and 2B → 18 for the check.
 */
const NIR = /(?<![\dA-Za-z])([12])[ .]?(\d{2})[ .]?(\d{2})[ .]?(\d{2}|2[AaBb])[ .]?(\d{3})[ .]?(\d{3})[ .]?(\d{2})(?![\dA-Za-z])/g

export const nirKeyValid = (sex: string, year: string, month: string, dept: string, commune: string, order: string, key: string): boolean => {
  const d = dept.toUpperCase()
  const deptDigits = d === "2A" ? "19" : d === "2B" ? "18" : d
  const n = BigInt(`${sex}${year}${month}${deptDigits}${commune}${order}`)
  return 97n - (n % 97n) === BigInt(key)
}

/** IBAN: country, check digits, then up to 30 alphanumerics, possibly in groups of four. */
const IBAN = /(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?)(?![A-Za-z0-9])/g

export const ibanValid = (iban: string): boolean => {
  const s = iban.replace(/ /g, "")
  if (s.length < 15 || s.length > 34) return false
  const rearranged = s.slice(4) + s.slice(0, 4)
  let rem = 0
  for (const ch of rearranged) {
    const v = ch >= "A" && ch <= "Z" ? String(ch.charCodeAt(0) - 55) : ch
    for (const digit of v) rem = (rem * 10 + Number(digit)) % 97
  }
  return rem === 1
}

const MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
const DATE = `(?:\\d{1,2}[/.-]\\d{1,2}[/.-]\\d{2,4}|(?:1er|\\d{1,2})\\s+(?:${MONTHS})\\s+\\d{4})`
/** A date right after "né le", "née le", "né(e) le" or "date de naissance :"; only the date is replaced. */
export const BIRTH = new RegExp(`(\\b(?:née?s?|né\\(e\\))\\s+le\\s+|\\bdate\\s+de\\s+naissance\\s*:?\\s*(?:le\\s+)?)(${DATE})`, "giu")

/**
 * Where BIRTH can start: "né" or "date" in any case. Under BIRTH's `iu` flags n, é, d, a, t and
 * e fold only to their capitals, so these classes take exactly what it takes there.
 */
const BIRTH_CUE = /[nN][éÉ]|[dD][aA][tT][eE]/g
/** BIRTH tried at one position only (sticky). */
const BIRTH_AT = new RegExp(BIRTH.source, "iuy")

export interface ScrubResult {
  readonly text: string
  readonly counts: Readonly<Record<PiiType, number>>
}

/** Replaces e-mails, French phones, NIR (valid key), IBAN (valid check) and birth dates by typed placeholders. */
export const scrubPii = (text: string): ScrubResult => {
  const counts: Record<PiiType, number> = { EMAIL: 0, TELEPHONE: 0, NIR: 0, IBAN: 0, DATE_NAISSANCE: 0 }
  // Cheap guards first: most documents have no '@' and few long digit runs.
  let out = text
  if (out.includes("@")) out = out.replace(EMAIL, () => (counts.EMAIL++, placeholder("EMAIL")))
  if (/\d/.test(out)) {
    out = out.replace(IBAN, (m: string) => (ibanValid(m) ? (counts.IBAN++, placeholder("IBAN")) : m))
    out = out.replace(NIR, (m: string, ...g: Array<string>) =>
      nirKeyValid(g[0]!, g[1]!, g[2]!, g[3]!, g[4]!, g[5]!, g[6]!) ? (counts.NIR++, placeholder("NIR")) : m)
    out = out.replace(PHONE, (m: string, prefix: string, separator: string, offset: number, whole: string) => {
      const compactNational = prefix === "0" && separator === ""
      if (compactNational && !PHONE_CUE.test(whole.slice(Math.max(0, offset - 40), offset))) return m
      counts.TELEPHONE++
      return placeholder("TELEPHONE")
    })
    // BIRTH (case-insensitive, Unicode, a \b first) would be tried at every position; a match
    // starts at "né" or "date" in some case, so it is tried (sticky) only where BIRTH_CUE finds
    // one, from left to right and past each match, as replace() takes them: the same matches.
    // French has "né" in many words ("année", "donné"); a \b fails those at once.
    out = replaceBirthDates(out, counts)
  }
  return { text: out, counts }
}

/** out.replace(BIRTH, lead + placeholder), BIRTH tried only where BIRTH_CUE finds a place it can start. */
export const replaceBirthDates = (text: string, counts: Record<PiiType, number>): string => {
  let out = ""
  let last = 0
  BIRTH_CUE.lastIndex = 0
  for (let cue = BIRTH_CUE.exec(text); cue !== null; cue = BIRTH_CUE.exec(text)) {
    BIRTH_AT.lastIndex = cue.index
    const m = BIRTH_AT.exec(text)
    if (m === null) {
      BIRTH_CUE.lastIndex = cue.index + 1
      continue
    }
    counts.DATE_NAISSANCE++
    out += text.slice(last, m.index) + m[1]! + placeholder("DATE_NAISSANCE")
    last = BIRTH_CUE.lastIndex = m.index + m[0].length
  }
  return last === 0 ? text : out + text.slice(last)
}

/** Scrubs PII from each document; counts replacements per type in the tally. */
export const piiScrubber = (ledger?: DocumentLedger) => {
  const op = corpusStep<CorpusDocument, CorpusDocument>("pii", (doc) => {
    const a = analysisOf(doc)
    const { text, counts } = (a !== undefined && a.pii !== undefined && normalisedTextOf(a) === doc.text ? a.pii : scrubPii(doc.text)) as ScrubResult
    if (text === doc.text) return Verdict.keep(doc)
    const found: Record<string, number> = {}
    for (const t of PII_TYPES) {
      if (counts[t] > 0) {
        op.tally.count(t, counts[t])
        found[t] = counts[t]
      }
    }
    // contentHash stays the normalised input's: incremental runs compare it before scrubbing.
    // meta.pii: replacements by type, written with the cleaned document (documents-jsonl.ts).
    return Verdict.keep({ ...doc, text, meta: { ...doc.meta, pii: found } }, true)
  }, ledger)
  return op
}
