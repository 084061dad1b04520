/**
 * French clinical letters as hospitals write them (issue 21): a letterhead with phone, fax and
 * e-mail, the patient's identity (NIR, date of birth, sometimes an IBAN for a refund), a few
 * sentences of prose, a block of lab values and a signature with an RPPS number. Every one is a
 * legitimate document a health corpus must keep; deterministic from the seed. Invented data.
 */
import { makeIban, makeNir, render } from "../../bench/corpus/generate.ts"
import { mulberry32 } from "../../lib/random.ts"

const SERVICES = ["Service de cardiologie", "Service de pneumologie", "Service de médecine interne", "Service de néphrologie", "Service de gastro-entérologie"]
const LABS = [
  "Hémoglobine : {hb} g/dL (N : 13 – 17)", "Leucocytes : {leu} /mm³", "Plaquettes : {pla} 000 /mm³", "Créatinine : {cr} µmol/L ; DFG : {dfg} mL/min/1,73 m²",
  "Sodium : 13{d} mmol/L ; potassium : 4,{d} mmol/L", "CRP : {crp} mg/L", "HbA1c : 6,{d} %", "TSH : 1,{d} mUI/L", "INR : 2,{d} ; TP : {tp} %", "Troponine : {tro} ng/L"
]
const PROSE = [
  "{Le patient|La patiente} a été {hospitalisé(e)|admis(e)} pour {symptome} évoluant depuis {duree}, dans un contexte de {antecedent}.",
  "{L’examen clinique retrouve|On note à l’examen} {symptome}, sans signe de gravité immédiate, et le bilan initial a été complété par {examen}.",
  "{Cet examen a mis en évidence|Le bilan a révélé} {resultat}, ce qui a conduit à débuter {traitement} avec une bonne évolution.",
  "Le traitement de sortie comprend du {medicament} {dose} {frequence}, à poursuivre jusqu’à la prochaine consultation.",
  "Nous reverrons {le patient|la patiente} en consultation dans {trois|six|huit} semaines avec un nouveau bilan biologique.",
  "Je vous remercie de m’avoir adressé {ce patient|cette patiente} et reste à votre disposition pour tout renseignement complémentaire."
]

const two = (rng: () => number) => String(Math.floor(rng() * 100)).padStart(2, "0")
const phone = (rng: () => number, lead: string) => `${lead} ${two(rng)} ${two(rng)} ${two(rng)} ${two(rng)}`

export const clinicalLetters = (count = 30, seed = 2111): Array<{ id: string; text: string }> => {
  const rng = mulberry32(seed)
  const pick = <T>(xs: ReadonlyArray<T>) => xs[Math.floor(rng() * xs.length)]!
  return Array.from({ length: count }, (_, i) => {
    const lead = pick(["04", "01", "03", "05"])
    const values: Record<string, string> = {
      hb: `${10 + Math.floor(rng() * 6)},${Math.floor(rng() * 10)}`, leu: `${4 + Math.floor(rng() * 8)} ${Math.floor(rng() * 9)}00`, pla: String(150 + Math.floor(rng() * 250)),
      cr: String(60 + Math.floor(rng() * 90)), dfg: String(40 + Math.floor(rng() * 60)), d: String(Math.floor(rng() * 10)), crp: String(Math.floor(rng() * 120)),
      tp: String(30 + Math.floor(rng() * 70)), tro: String(5 + Math.floor(rng() * 60))
    }
    const labs = [...LABS].sort(() => rng() - 0.5).slice(0, 4 + Math.floor(rng() * 4)).map((l) => l.replace(/\{(\w+)\}/g, (_, k: string) => values[k]!))
    const lines = [
      `Centre hospitalier de ${pick(["Lyon", "Lille", "Nantes", "Rennes", "Dijon"])} — ${pick(SERVICES)}`,
      `Tél. : ${phone(rng, lead)} — Fax : ${phone(rng, lead)} — secretariat${i}@ch-exemple.fr`,
      "",
      `Objet : compte rendu d’hospitalisation de ${pick(["Madame", "Monsieur"])} ${pick(["Durand", "Martin", "Bernard", "Petit", "Robert"])}, né(e) le ${1 + Math.floor(rng() * 28)}/0${1 + Math.floor(rng() * 9)}/19${40 + Math.floor(rng() * 50)}.`,
      `NIR : ${makeNir(rng)} ; téléphone du patient : ${phone(rng, pick(["06", "07"]))}.`,
      ...(rng() < 0.4 ? [`Remboursement des frais de transport sur le compte ${makeIban(rng)}.`] : []),
      "",
      "Cher confrère,",
      "",
      PROSE.slice(0, 3 + Math.floor(rng() * 3)).map((p) => render(p, rng)).join(" "),
      "",
      "Biologie de sortie :",
      ...labs,
      "",
      render(PROSE[5]!, rng),
      "",
      `Dr ${pick(["Lefebvre", "Moreau", "Garcia", "Roux"])}, RPPS 1000${Math.floor(rng() * 1e7).toString().padStart(7, "0")}`
    ]
    return { id: `letter-${String(i).padStart(2, "0")}`, text: lines.join("\n") }
  })
}
