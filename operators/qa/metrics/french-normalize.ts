/**
 * French answer normalisation for SQuAD-style F1/EM, version "fr-squad-1".
 *
 * Public French variants differ (FQuAD, PIAF and DrBenchmark each tweak the English rule), so the
 * rule is written down here and its version is stored with every score that uses it:
 *   1. Unicode NFKC (non-breaking and thin spaces become spaces, ligatures like "ﬁ" split);
 *   2. lower-case (French locale);
 *   3. typographic apostrophes ’ ‘ ʼ ´ ` ′ become ';
 *   4. the elided articles l' and d' at the start of a word are removed ("l’artère" → "artère");
 *   5. every Unicode punctuation (P*) or symbol (S*) character is deleted, as SQuAD deletes
 *      string.punctuation ("« 39,2 °C »" → "392 c", "aujourd'hui" → "aujourdhui");
 *   6. the articles le, la, les, un, une, des, du, de, au, aux are removed as whole words;
 *   7. whitespace is collapsed and the text split on it.
 * Any change to these steps must bump NORMALISATION_VERSION.
 */
export const NORMALISATION_VERSION = "fr-squad-1"

const APOSTROPHES = /[’‘ʼ´`′]/g
const ELIDED_ARTICLE = /(?<![\p{L}\p{N}])[ld]'/gu
const PUNCT_OR_SYMBOL = /[\p{P}\p{S}]/gu
const ARTICLES = /(?<![\p{L}\p{N}])(?:le|la|les|un|une|des|du|de|au|aux)(?![\p{L}\p{N}])/gu

export const normalizeFrench = (text: string): string =>
  text
    .normalize("NFKC")
    .toLocaleLowerCase("fr")
    .replace(APOSTROPHES, "'")
    .replace(ELIDED_ARTICLE, " ")
    .replace(PUNCT_OR_SYMBOL, "")
    .replace(ARTICLES, " ")
    .split(/\s+/)
    .filter((t) => t !== "")
    .join(" ")

export const frenchTokens = (text: string): Array<string> => {
  const n = normalizeFrench(text)
  return n === "" ? [] : n.split(" ")
}
