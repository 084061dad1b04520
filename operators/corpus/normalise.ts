import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { sha256 } from "../readers/corpus.ts"
import { analysisOf, normalisedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

/** Bytes 0x80–0x9F as Windows-1252 shows them (the others are Latin-1, i.e. the byte's own code point). */
const CP1252_HIGH = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ"
const byteOfChar = new Map<string, number>()
for (let b = 0xa0; b <= 0xff; b++) byteOfChar.set(String.fromCharCode(b), b)
for (let i = 0; i < 32; i++) {
  byteOfChar.set(CP1252_HIGH[i]!, 0x80 + i)
  byteOfChar.set(String.fromCharCode(0x80 + i), 0x80 + i) // Latin-1 reading of the same byte
}
const continuation = `\\u0080-\\u00BF${[...CP1252_HIGH].filter((c) => c.charCodeAt(0) > 0xff).join("")}`
/** A UTF-8 lead byte (Â..ô) followed by 1–3 continuation bytes, all read as cp1252/Latin-1. */
const MOJIBAKE = new RegExp(`[\\u00C2-\\u00F4][${continuation}]{1,3}`, "g")
const strict = new TextDecoder("utf-8", { fatal: true })

/**
 * Repairs UTF-8 text that was decoded as Windows-1252 or Latin-1 ("Ã©" → "é", "â€™" → "’").
 * Each suspicious run is re-encoded to bytes and decoded as UTF-8; it is replaced only when that
 * yields exactly one valid character, so ordinary text with "Â" or "Ã" is left alone.
 */
export const repairMojibake = (text: string): { text: string; repairs: number } => {
  let repairs = 0
  const fixed = text.replace(MOJIBAKE, (run) => {
    const lead = byteOfChar.get(run[0]!)!
    const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
    if (run.length < length) return run
    const bytes = Uint8Array.from([...run.slice(0, length)].map((c) => byteOfChar.get(c) ?? 0))
    let decoded: string
    try {
      decoded = strict.decode(bytes)
    } catch {
      return run
    }
    if ([...decoded].length !== 1) return run
    repairs++
    return decoded + run.slice(length)
  })
  // "à" is C3 A0: when the A0 (no-break space) was turned into a plain space on the way, what
  // is left is "Ã" + two spaces. Standalone "Ã" before a space is not French, so this is safe.
  const withGrave = fixed.replace(/Ã (?= )/g, () => (repairs++, "à"))
  return { text: withGrave, repairs }
}

// C0/C1 controls except tab and newline; zero-width characters and BOMs that carry no text.
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u200C\u200D\u2060\uFEFF]/g

const SPACE_RUNS = /[ \t\u2000-\u200A\u3000]{2,}|\t/g
/** The spaces at the end of each line. */
const TRAILING_SPACES = /[ \t\u00A0\u2000-\u200A\u3000]*\n/g

/** spacesAndControls's answers, as bits. */
const CONTROL = 1
const TRAILING = 2
const SPACE_RUN = 4

/**
 * Which of normaliseText's last replaces can change `text`: CONTROL where CONTROLS matches (or a
 * CR is left: then every replace runs, as before), TRAILING where a unit of TRAILING_SPACES's
 * class stands before a newline, SPACE_RUN where SPACE_RUNS matches. Without a control, removing
 * trailing spaces (a run that ends at a newline) cannot make a new space run, so the answers hold
 * for the text the later replaces see (test/corpus/fast-paths.test.ts compares with the plain chain).
 */
const spacesAndControls = (text: string): number => {
  let found = 0
  let space = false
  let trailing = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 0x20 && c < 0x7f) {
      space = trailing = false
      continue
    }
    if (c === 10) {
      if (trailing) found |= TRAILING
      space = trailing = false
      continue
    }
    if (c <= 0x1f ? c !== 9 : (c >= 0x7f && c <= 0x9f) || c === 0x200b || c === 0x200c || c === 0x200d || c === 0x2060 || c === 0xfeff) return CONTROL
    const s = c === 32 || c === 9 || (c >= 0x2000 && c <= 0x200a) || c === 0x3000
    if (c === 9 || (s && space)) found |= SPACE_RUN
    space = s
    trailing = s || c === 0xa0
  }
  return found
}

/** NFC, mojibake repair, controls removed, \r\n → \n, runs of spaces collapsed, blank lines capped at one. */
export const normaliseText = (input: string): { text: string; repairs: number } => {
  const { text: repaired, repairs } = repairMojibake(input)
  let text = repaired.normalize("NFC")
  // The guards spare most texts a regex scan; includes() is a plain search.
  if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n")
  // One scan says which of the three replaces below can change the text; a text with a control
  // (or a CR, which the line above leaves none of) takes all three, as before.
  const found = spacesAndControls(text)
  if (found & CONTROL) text = text.replace(CONTROLS, "")
  if (found & (CONTROL | TRAILING)) text = text.replace(TRAILING_SPACES, "\n")
  // A run of two or more spaces, or a tab, becomes one space; a single space of another kind
  // stays. Matching only those runs spares a callback per word gap (matches start at runs' starts
  // and take whole runs, so this equals replacing every run by " " or itself).
  if (found & (CONTROL | SPACE_RUN)) text = text.replace(SPACE_RUNS, " ")
  if (text.includes("\n\n\n")) text = text.replace(/\n{3,}/g, "\n\n")
  text = text.trim()
  return { text, repairs }
}

/** Normalises each document's text and recomputes its content hash; empty documents are dropped. */
export const normalise = (ledger?: DocumentLedger) => {
  const op = corpusStep<CorpusDocument, CorpusDocument>("normalise", (doc) => {
    // A worker may have normalised this very text already (operators/corpus/analysis.ts).
    const a = analysisOf(doc)
    const ahead = a !== undefined && a.input === doc.text
    const { text, repairs } = ahead ? { text: normalisedTextOf(a), repairs: a.repairs } : normaliseText(doc.text)
    if (repairs > 0) op.tally.count("mojibake-repairs", repairs)
    if (text.length === 0) return Verdict.drop("empty after normalisation")
    if (text === doc.text) return Verdict.keep(doc)
    return Verdict.keep({ ...doc, text, contentHash: (ahead ? a.contentHash : undefined) ?? sha256(text) }, true)
  }, ledger)
  return op
}
