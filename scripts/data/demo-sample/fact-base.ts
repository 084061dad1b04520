/**
 * The fact base of fleuve's demo sample (CC BY 4.0, written for fleuve): invented medicines and
 * invented diseases, each with five attributes whose values are ordinary French medical
 * phrases. The entities are fictional on purpose: no model can know them beforehand, so whatever
 * a system knows about them at test time it learned from the demo's corpus (DAPT). The values are
 * plausible but the pairings are drawn at random: **nothing here is medical knowledge**.
 *
 * Per attribute, this file holds:
 * - `values`: the closed set the attribute's value is drawn from (balanced over the entities of a
 *   split, so a system that learned only which answers are frequent is at chance);
 * - `corpus`: declarative paraphrase templates for the corpus documents (each fact is stated with
 *   three different ones, in three documents);
 * - `questions`: interrogative templates for MCQA and AbsQA items, worded unlike the corpus
 *   templates (the sample's test checks that no question shares 6 consecutive words with the corpus).
 *
 * Template slots: {le} {Le} {du} {au} the entity with its article ("le vélorane", "la trabirose",
 * "du …", "au …"), {il} its pronoun; {v} the value
 * as written in `values`, {V} capitalised, {de v} with "de" contracted ("du diabète", "d'une toux",
 * "de la grossesse"), {à v} with "à" contracted ("au", "aux").
 */

export type EntityKind = "drug" | "disease"

export interface Attribute {
  readonly name: string
  /** What the attribute is, in French (documentation, and the key of the fact). */
  readonly label: string
  readonly values: ReadonlyArray<string>
  readonly corpus: ReadonlyArray<string>
  readonly questions: ReadonlyArray<string>
}

export const DRUG_ATTRIBUTES: ReadonlyArray<Attribute> = [
  {
    name: "indication",
    label: "indication principale",
    values: [
      "l'hypertension artérielle",
      "le diabète de type 2",
      "l'épilepsie",
      "la migraine",
      "l'asthme",
      "la polyarthrite rhumatoïde",
      "l'insuffisance cardiaque",
      "la maladie de Parkinson",
      "la goutte",
      "l'hypothyroïdie"
    ],
    corpus: [
      "{Le} est prescrit dans le traitement {de v}.",
      "On utilise {le} pour soigner {v}.",
      "La principale indication {du} est {v}.",
      "Les médecins réservent {le} aux patients atteints {de v}.",
      "Chez l'adulte, {le} sert à traiter {v}."
    ],
    questions: ["Dans quelle maladie {le} est-il indiqué ?", "Quelle affection traite-t-on avec {le} ?"]
  },
  {
    name: "dose",
    label: "posologie usuelle",
    values: [
      "5 mg une fois par jour",
      "10 mg deux fois par jour",
      "20 mg le soir au coucher",
      "50 mg trois fois par jour",
      "100 mg une fois par semaine",
      "250 mg matin et soir",
      "2 mg toutes les huit heures",
      "40 mg un jour sur deux"
    ],
    corpus: [
      "La dose habituelle {du} chez l'adulte est de {v}.",
      "{Le} se prend à raison de {v}.",
      "Le schéma recommandé pour {le} est de {v}.",
      "Pour {le}, la posologie courante est de {v}.",
      "On prescrit en général {le} à {v}."
    ],
    questions: ["Quelle est la posologie usuelle {du} chez l'adulte ?", "À quelle dose prescrit-on {le} ?"]
  },
  {
    name: "adverse-effect",
    label: "effet indésirable principal",
    values: [
      "une toux sèche",
      "des œdèmes des chevilles",
      "une prise de poids",
      "des nausées",
      "une somnolence",
      "des crampes musculaires",
      "une photosensibilité",
      "des maux de tête",
      "une sécheresse de la bouche",
      "une baisse du potassium sanguin"
    ],
    corpus: [
      "{Le} peut provoquer {v}.",
      "Le principal effet indésirable {du} est {v}.",
      "Sous {le}, certains patients présentent {v}.",
      "Parmi les effets secondaires {du}, on retient surtout {v}.",
      "{V} est l'effet gênant que l'on rencontre le plus avec {le}."
    ],
    questions: ["Quel effet indésirable est le plus souvent observé avec {le} ?", "De quel effet secondaire faut-il prévenir un patient qui commence {le} ?"]
  },
  {
    name: "contraindication",
    label: "contre-indication principale",
    values: [
      "une grossesse en cours",
      "une insuffisance rénale sévère",
      "une insuffisance hépatique",
      "un asthme sévère",
      "un bloc auriculo-ventriculaire",
      "un antécédent d'ulcère gastrique",
      "une hypotension orthostatique",
      "un glaucome à angle fermé"
    ],
    corpus: [
      "{Le} ne doit pas être prescrit en présence {de v}.",
      "La principale contre-indication {du} est {v}.",
      "On évite {le} chez les patients qui ont {v}.",
      "{V} interdit l'emploi {du}.",
      "{Le} est contre-indiqué lorsque le patient présente {v}."
    ],
    questions: ["Dans quelle situation ne faut-il pas donner {le} ?", "Quelle est la contre-indication majeure {du} ?"]
  },
  {
    name: "monitoring",
    label: "paramètre à surveiller",
    values: [
      "la kaliémie",
      "la fonction rénale",
      "les enzymes hépatiques",
      "la numération des plaquettes",
      "la glycémie",
      "la pression artérielle",
      "l'électrocardiogramme",
      "le taux de TSH"
    ],
    corpus: [
      "Pendant un traitement par {le}, il faut surveiller {v}.",
      "La surveillance {du} repose sur le contrôle régulier {de v}.",
      "Tout patient sous {le} doit faire vérifier {v} chaque mois.",
      "Avec {le}, le suivi porte avant tout sur {v}.",
      "On contrôle régulièrement {v} des patients traités par {le}."
    ],
    questions: ["Quel paramètre doit être suivi chez un patient sous {le} ?", "Que faut-il contrôler pendant un traitement au long cours par {le} ?"]
  }
]

export const DISEASE_ATTRIBUTES: ReadonlyArray<Attribute> = [
  {
    name: "symptom",
    label: "symptôme révélateur",
    values: [
      "une fièvre prolongée",
      "des douleurs articulaires",
      "une éruption cutanée",
      "un essoufflement à l'effort",
      "des vertiges",
      "une perte de poids",
      "une baisse de la vision",
      "une fatigue intense",
      "des palpitations",
      "une toux chronique"
    ],
    corpus: [
      "{Le} se manifeste d'abord par {v}.",
      "Le signe qui révèle le plus souvent {le} est {v}.",
      "La plupart des malades atteints {du} consultent pour {v}.",
      "{V} constitue le symptôme principal {du}.",
      "On doit penser {au} devant {v}."
    ],
    questions: ["Quel est le symptôme révélateur {du} ?", "Par quel signe {le} se révèle-t-{il} habituellement ?"]
  },
  {
    name: "cause",
    label: "cause",
    values: [
      "une mutation génétique héréditaire",
      "une infection virale",
      "une réaction auto-immune",
      "une carence en vitamine D",
      "une exposition professionnelle aux solvants",
      "une bactérie transmise par les tiques",
      "un dépôt anormal de protéines",
      "un déficit enzymatique congénital"
    ],
    corpus: [
      "{Le} a pour cause {v}.",
      "On sait aujourd'hui que {le} résulte {de v}.",
      "La cause {du} est {v}.",
      "{V} est à l'origine {du}.",
      "Les chercheurs attribuent {le} à {v}."
    ],
    questions: ["Qu'est-ce qui provoque {le} ?", "Quel mécanisme explique {le} ?"]
  },
  {
    name: "test",
    label: "examen de confirmation",
    values: [
      "une IRM cérébrale",
      "une biopsie de la peau",
      "une échographie abdominale",
      "une spirométrie",
      "un électromyogramme",
      "une ponction lombaire",
      "un scanner thoracique",
      "un dosage sanguin des anticorps"
    ],
    corpus: [
      "Le diagnostic {du} est confirmé par {v}.",
      "Pour affirmer {le}, on réalise {v}.",
      "{V} permet de poser le diagnostic {du}.",
      "L'examen de référence pour {le} est {v}.",
      "En cas de doute sur {le}, le médecin demande {v}."
    ],
    questions: ["Quel examen permet de confirmer {le} ?", "Sur quel examen repose la confirmation {du} ?"]
  },
  {
    name: "treatment",
    label: "traitement de référence",
    values: [
      "une corticothérapie",
      "une antibiothérapie prolongée",
      "une kinésithérapie",
      "une intervention chirurgicale",
      "un régime pauvre en sel",
      "des séances de photothérapie",
      "des perfusions d'immunoglobulines",
      "une supplémentation en fer"
    ],
    corpus: [
      "{Le} se traite par {v}.",
      "Le traitement de référence {du} repose sur {v}.",
      "Chez les patients atteints {du}, on propose {v}.",
      "{V} améliore nettement {le}.",
      "La prise en charge {du} comporte avant tout {v}."
    ],
    questions: ["Comment traite-t-on {le} ?", "Quelle prise en charge recommande-t-on pour {le} ?"]
  },
  {
    name: "population",
    label: "population touchée",
    values: [
      "les enfants de moins de cinq ans",
      "les femmes jeunes",
      "les hommes de plus de soixante ans",
      "les sportifs de haut niveau",
      "les nourrissons",
      "les personnes âgées",
      "les adolescents",
      "les travailleurs agricoles"
    ],
    corpus: [
      "{Le} touche surtout {v}.",
      "On observe {le} principalement chez {v}.",
      "La population la plus exposée {au} est celle {de v}.",
      "{Le} concerne avant tout {v}.",
      "Dans la plupart des cas, {le} survient chez {v}."
    ],
    questions: ["Quelle population {le} atteint-{il} le plus ?", "Qui est le plus souvent atteint par {le} ?"]
  }
]

export const ATTRIBUTES: Readonly<Record<EntityKind, ReadonlyArray<Attribute>>> = { drug: DRUG_ATTRIBUTES, disease: DISEASE_ATTRIBUTES }

/** Syllables of the invented names. No stem of a real drug class (-olol, -pril, -sartan, -mab, -tinib, -statine…), so a name says nothing about its facts. */
export const NAME_PARTS = {
  onsets: ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "cl", "dr", "fl", "gr", "pl", "tr"],
  vowels: ["a", "e", "i", "o", "u", "é"],
  drugEndings: ["rane", "vex", "lium", "dol", "rine", "nal", "voxe", "quine"],
  // One-word disease names, as "la brucellose" or "le saturnisme": an eponym ("la maladie de X")
  // repeated in every sentence makes its 3- and 4-grams so frequent that the corpus pipeline's
  // Gopher repetition filter drops the document.
  diseaseEndings: [{ ending: "ose", feminine: true }, { ending: "ite", feminine: true }, { ending: "iase", feminine: true }, { ending: "isme", feminine: false }]
} as const

/**
 * The frames of the corpus documents: a title and an opening before the fact sentences, a closing
 * after. None of them states a fact; each genre has its own wording so documents differ.
 */
export interface Genre {
  readonly name: string
  readonly title: ReadonlyArray<string>
  readonly opening: ReadonlyArray<string>
  readonly closing: ReadonlyArray<string>
}

export const GENRES: ReadonlyArray<Genre> = [
  {
    name: "fiche",
    title: ["Fiche pratique : {le}", "Fiche de synthèse : {le}", "L'essentiel sur {le}"],
    opening: ["Ce qu'il faut retenir en pratique.", "Voici les points clés à connaître."],
    closing: ["Cette fiche ne remplace pas un avis médical.", "En cas de doute, demandez conseil à votre pharmacien."]
  },
  {
    name: "cours",
    title: ["Notes de cours : {le}", "Cours de troisième année : {le}", "Révisions pour l'examen : {le}"],
    opening: ["Résumé du cours magistral de cette semaine.", "Ces points tombent souvent aux examens."],
    closing: ["Relisez ces notes avec le chapitre du manuel.", "Le prochain cours portera sur les cas cliniques."]
  },
  {
    name: "forum",
    title: ["Question sur {le}", "Besoin d'avis : {le}", "Retour d'expérience : {le}"],
    opening: ["Bonjour à tous, voici ce que mon médecin m'a expliqué.", "Bonsoir, je partage ce que l'équipe soignante m'a dit."],
    closing: ["Merci pour vos retours et bon courage.", "J'espère que cela aidera quelqu'un."]
  }
]

/**
 * Extractive QA contexts: short clinical vignettes that state some of an entity's facts. Slots as
 * above, plus {P} the patient ("Mme R."), {Pil}/{pil} the patient's pronoun, {pe} the patient's
 * feminine agreement, {age}; an attribute slot is `{attribute}`, `{de attribute}` or `{Attribute}`
 * (capitalised). The answer span of a question is the value without its leading article, as it
 * stands in the context ("diabète de type 2" in "du diabète de type 2").
 */
export interface CaseTemplate {
  readonly kind: EntityKind
  readonly text: string
}

export const CASES: ReadonlyArray<CaseTemplate> = [
  { kind: "drug", text: "{P}, {age} ans, est suivi{pe} pour {indication}. Son médecin lui prescrit {le} à raison de {dose}. Trois semaines plus tard, {pil} signale {adverse-effect}." },
  { kind: "drug", text: "{P}, {age} ans, vient renouveler son traitement {de indication} : {le}, {dose}. {Pil} se plaint depuis peu {de adverse-effect}. Le médecin prévoit de contrôler {monitoring}." },
  { kind: "disease", text: "{P}, {age} ans, consulte pour {symptom}. Le diagnostic {du} est retenu après {test}. L'équipe débute {treatment}." },
  { kind: "disease", text: "{P}, {age} ans, est adressé{pe} en consultation pour {symptom}. {Test} confirme {le}. On lui propose {treatment}." }
]

/** The extractive questions about a vignette, per attribute it can state. */
export const CASE_QUESTIONS: Readonly<Record<string, string>> = {
  "indication": "Pour quelle maladie {P} est-{pil} traité{pe} ?",
  "dose": "À quelle dose {le} est-il prescrit à {P} ?",
  "adverse-effect": "De quel trouble {P} se plaint-{pil} ?",
  "monitoring": "Que le médecin prévoit-il de contrôler ?",
  "symptom": "Pour quel signe {P} consulte-t-{pil} ?",
  "test": "Quel examen a permis le diagnostic chez {P} ?",
  "treatment": "Quel traitement est proposé à {P} ?"
}
