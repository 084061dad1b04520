/**
 * Hand-written French health text fragments (CC BY 4.0, written for fleuve) from which the sample
 * corpus and the benchmark corpus are generated. Templates use {a|b|c} for alternatives and
 * {slot} for values drawn from the lists below, so documents of one genre share vocabulary but
 * rarely share long word sequences (which would make them accidental near-duplicates).
 */

export const SLOTS: Record<string, ReadonlyArray<string>> = {
  age: ["19", "23", "27", "31", "34", "38", "42", "45", "49", "52", "56", "58", "61", "64", "67", "71", "74", "78", "82", "87", "91"],
  patient: ["Le patient", "La patiente", "Monsieur B.", "Madame L.", "Un homme", "Une femme", "Ce patient", "Cette patiente", "Un agriculteur", "Une enseignante", "Un retraité", "Une infirmière"],
  symptome: ["une douleur thoracique constrictive", "une dyspnée d’effort", "une toux sèche persistante", "des céphalées inhabituelles", "une fièvre à 39 °C", "des douleurs abdominales diffuses", "une asthénie marquée", "des vertiges rotatoires", "une perte de poids de 6 kg", "des palpitations", "une hématurie macroscopique", "des œdèmes des membres inférieurs", "une confusion d’installation brutale", "des lombalgies fébriles", "une diarrhée glairo-sanglante", "un prurit généralisé", "des sueurs nocturnes", "une baisse brutale de l’acuité visuelle"],
  duree: ["quarante-huit heures", "trois jours", "une semaine", "dix jours", "trois semaines", "deux mois", "six mois", "quelques heures"],
  antecedent: ["une hypertension artérielle traitée", "un diabète de type 2", "une BPCO", "une fibrillation atriale sous anticoagulant", "une insuffisance rénale chronique", "un cancer du sein en rémission", "une cardiopathie ischémique", "un asthme ancien", "une hypothyroïdie substituée", "une obésité morbide", "une polyarthrite rhumatoïde", "une cirrhose alcoolique"],
  examen: ["un scanner thoracique", "une échographie abdominale", "une IRM cérébrale", "une radiographie pulmonaire", "une coronarographie", "une fibroscopie œso-gastro-duodénale", "une ponction lombaire", "un électrocardiogramme", "une échocardiographie transthoracique", "un bilan biologique complet"],
  resultat: ["une embolie pulmonaire segmentaire", "une pneumopathie lobaire inférieure droite", "une cholécystite aiguë lithiasique", "un accident vasculaire cérébral ischémique", "une sténose serrée de l’interventriculaire antérieure", "une méningite lymphocytaire", "une pyélonéphrite aiguë", "une anémie ferriprive", "une hyponatrémie à 124 mmol/l", "une insuffisance cardiaque à FEVG 35 %", "une thrombose veineuse profonde poplitée", "un ulcère bulbaire"],
  traitement: ["une anticoagulation curative", "une antibiothérapie par ceftriaxone", "une cholécystectomie sous cœlioscopie", "une thrombolyse intraveineuse", "une angioplastie avec pose de stent", "une corticothérapie à 1 mg/kg/j", "une supplémentation martiale", "une restriction hydrique", "un traitement diurétique", "une réhydratation intraveineuse"],
  medicament: ["paracétamol", "amoxicilline", "ibuprofène", "metformine", "ramipril", "bisoprolol", "apixaban", "oméprazole", "lévothyroxine", "atorvastatine", "prednisolone", "furosémide", "salbutamol", "tramadol"],
  dose: ["500 mg", "1 g", "10 mg", "2,5 mg", "20 mg", "40 mg", "5 mg", "100 µg", "850 mg", "75 mg"],
  frequence: ["une fois par jour", "deux fois par jour", "matin et soir", "toutes les six heures", "au cours du repas", "le soir au coucher", "trois fois par jour"],
  effet: ["des nausées", "des maux de tête", "une somnolence", "des troubles digestifs", "une éruption cutanée", "des vertiges", "une toux sèche", "des douleurs musculaires", "une fatigue inhabituelle", "des saignements de nez"],
  organe: ["le rein", "le foie", "le cœur", "le poumon", "le pancréas", "la thyroïde", "l’estomac", "le cerveau", "la moelle osseuse", "l’intestin grêle"],
  notion: ["la filtration glomérulaire", "la régulation de la glycémie", "le cycle cardiaque", "les échanges gazeux alvéolaires", "la sécrétion d’insuline", "la coagulation", "l’immunité adaptative", "l’équilibre acido-basique", "le métabolisme du fer", "la conduction nerveuse"],
  maladie: ["l’insuffisance cardiaque", "le diabète de type 2", "la BPCO", "l’hypertension artérielle", "la maladie rénale chronique", "la pneumonie communautaire", "l’asthme", "la fibrillation atriale", "la dépression", "l’ostéoporose", "la maladie de Parkinson", "la polyarthrite rhumatoïde"],
  prenom: ["Camille", "Julien", "Sophie", "Nadia", "Thomas", "Élodie", "Karim", "Lucie", "Mathieu", "Inès", "Pauline", "Hugo", "Amandine", "Yacine"],
  proche: ["ma mère", "mon père", "mon fils", "ma fille", "mon mari", "ma femme", "ma grand-mère", "mon frère", "mon compagnon", "ma sœur"],
  ville: ["Lyon", "Lille", "Nantes", "Toulouse", "Rennes", "Bordeaux", "Strasbourg", "Marseille", "Grenoble", "Dijon", "Brest", "Montpellier"],
  date: ["3 janvier 2024", "12 février 2024", "28 mars 2023", "7 avril 2024", "15 mai 2023", "21 juin 2024", "9 juillet 2023", "30 août 2024", "4 septembre 2023", "18 octobre 2024", "2 novembre 2023", "11 décembre 2023"],
  valeur: ["35 %", "40 paquets-années", "12,4 g/dl", "1,8 mmol/l", "38,9 °C", "145/92 mmHg", "92 % en air ambiant", "7,2 %", "150 µmol/l", "3,5 mmol/l"],
  grade: ["A", "B", "C", "AE"]
}

export type Genre = "cas-clinique" | "notice" | "cours" | "recommandation" | "forum"
export const GENRES: ReadonlyArray<Genre> = ["cas-clinique", "notice", "cours", "recommandation", "forum"]

/** Sentence templates per genre. A document draws several without replacement, in order of appearance. */
export const TEMPLATES: Record<Genre, ReadonlyArray<string>> = {
  "cas-clinique": [
    "{patient}, âgé(e) de {age} ans, {consulte aux urgences|est adressé(e) par son médecin traitant|se présente en consultation} pour {symptome} {évoluant depuis|apparue il y a} {duree}.",
    "{Parmi ses antécédents, on note|Ses antécédents comportent|On retient dans ses antécédents} {antecedent} et {antecedent}.",
    "Le tabagisme est évalué à {40 paquets-années|20 paquets-années|15 paquets-années}, {sevré depuis cinq ans|toujours actif|avec une tentative d’arrêt l’an dernier}.",
    "À l’admission le {date}, la température est à {38,2|37,4|39,1|36,8} °C, la pression artérielle à {145/92|110/70|98/60|160/95} mmHg et la fréquence cardiaque à {112|88|64|130} battements par minute.",
    "L’examen clinique {retrouve|met en évidence|objective} {des râles crépitants aux deux bases|une défense de l’hypochondre droit|un souffle systolique au foyer aortique|une raideur méningée|un déficit moteur de l’hémicorps gauche|une douleur à la palpation de la fosse lombaire}.",
    "{Le bilan biologique montre|La biologie retrouve|Les examens sanguins révèlent} une CRP à {84|156|12|230} mg/l, une hémoglobine à {12,4|9,8|14,1|10,6} g/dl et une créatininémie à {78|150|96|210} µmol/l.",
    "{On réalise|Il est décidé de réaliser|L’équipe demande} {examen}, qui {met en évidence|confirme|révèle} {resultat}.",
    "{Une prise en charge par|Le traitement repose sur|On instaure} {traitement}, {associée à une surveillance rapprochée|avec une bonne tolérance|en unité de soins continus}.",
    "L’évolution est {favorable en quelques jours|marquée par une complication infectieuse|lentement favorable|compliquée d’une insuffisance rénale aiguë transitoire}, {permettant un retour à domicile au dixième jour|justifiant une prolongation du séjour|avec une reprise de l’autonomie}.",
    "{Ce cas illustre|Cette observation rappelle|Cette situation souligne} {l’importance d’un diagnostic précoce|la difficulté du diagnostic chez le sujet âgé|l’intérêt d’une imagerie réalisée sans délai|le rôle de l’interrogatoire dans l’orientation diagnostique}.",
    "{Le diagnostic différentiel comprenait|On avait initialement évoqué|Les hypothèses discutées étaient} {resultat} et {resultat}.",
    "La fraction d’éjection ventriculaire gauche est estimée à {35|45|55|60} % à l’échocardiographie de contrôle.",
    "Le patient est revu en consultation {six semaines|trois mois|un mois} plus tard : {il ne présente plus de symptômes|la dyspnée persiste à l’effort|les douleurs ont disparu|un nouvel examen est programmé}.",
    "{La famille signale|L’entourage rapporte|Sa fille précise} que {symptome} {était déjà présente|s’était aggravée|avait été négligée} depuis {duree}.",
    "Un avis {cardiologique|néphrologique|neurologique|chirurgical|infectiologique} est demandé {en urgence|dans la journée|au deuxième jour}.",
    "Le traitement de sortie comprend {medicament} {dose} {frequence} et {medicament} {dose} {frequence}."
  ],
  notice: [
    "{Qu’est-ce que|Dans quel cas est utilisé} ce médicament ? Il contient du {medicament} et il est indiqué dans le traitement de {maladie} chez l’adulte.",
    "La dose habituelle est de {dose} {frequence}, {à avaler avec un grand verre d’eau|sans croquer le comprimé|de préférence à heure fixe}.",
    "Ne prenez jamais ce médicament {si vous êtes allergique au {medicament}|en cas d’insuffisance hépatique sévère|pendant les trois derniers mois de la grossesse|si vous avez déjà fait un ulcère de l’estomac}.",
    "{Adressez-vous à|Parlez-en à|Demandez conseil à} votre médecin ou votre pharmacien avant de prendre ce médicament si vous {êtes âgé de plus de 75 ans|prenez d’autres médicaments|avez une maladie des reins|allaitez}.",
    "Comme tous les médicaments, celui-ci peut provoquer des effets indésirables, mais ils ne surviennent pas systématiquement chez tout le monde : {effet}, {effet} ou {effet}.",
    "Si vous avez pris plus de {medicament} que vous n’auriez dû, {consultez immédiatement votre médecin|contactez le centre antipoison|rendez-vous aux urgences}, même si vous ne ressentez aucun symptôme.",
    "Si vous oubliez de prendre une dose, {prenez-la dès que possible|ne prenez pas de dose double pour compenser|attendez la prise suivante}.",
    "{Conservez ce médicament|Ce médicament doit être conservé} {à une température ne dépassant pas 25 °C|à l’abri de la lumière|hors de la vue et de la portée des enfants}.",
    "L’association avec {medicament} {est déconseillée|nécessite une surveillance|doit être évitée} car elle {augmente le risque de saignement|peut diminuer l’efficacité du traitement|expose à une hypotension}.",
    "Chez l’enfant de moins de {six|douze|quinze} ans, {la dose est adaptée au poids|ce médicament n’est pas recommandé|une forme buvable existe}.",
    "Ce médicament peut entraîner {une somnolence|des vertiges|une baisse de la vigilance}; {soyez prudent si vous conduisez|évitez de conduire au début du traitement|ne l’associez pas à l’alcool}.",
    "La durée du traitement {est fixée par votre médecin|ne doit pas dépasser cinq jours sans avis médical|est en général de sept à dix jours}.",
    "Chaque comprimé contient {dose} de {medicament}; les autres composants sont {le lactose|l’amidon de maïs|la cellulose microcristalline} et {le stéarate de magnésium|le talc|la silice colloïdale}.",
    "En cas de {grossesse|projet de grossesse|allaitement}, demandez conseil à votre médecin avant de prendre ce médicament."
  ],
  cours: [
    "{Objectif du cours|Dans ce chapitre, nous verrons|Ce cours a pour but de présenter} {notion} et ses principales anomalies.",
    "{Rappel anatomique|Pour commencer, un rappel} : {organe} {est un organe|joue un rôle central} {dans l’homéostasie de l’organisme|dans la défense de l’organisme|dans le métabolisme}.",
    "{Sur le plan physiologique|Du point de vue fonctionnel|En pratique}, {notion} repose sur {un équilibre entre plusieurs systèmes|une régulation hormonale fine|des mécanismes nerveux et humoraux}.",
    "{La physiopathologie de|Le mécanisme de} {maladie} {associe|fait intervenir|comprend} {une inflammation chronique|un remodelage tissulaire|une activation neuro-hormonale} et {un stress oxydatif|une altération de la microcirculation|une dysfonction endothéliale}.",
    "{L’épidémiologie|Les données épidémiologiques} montrent que {maladie} touche environ {5|8|12|2} % de la population adulte en France.",
    "Les signes cliniques {à connaître|les plus fréquents|évocateurs} sont {symptome}, {symptome} et {symptome}.",
    "{À retenir|Point clé pour l’examen|Attention} : {le diagnostic repose sur l’association de signes cliniques et biologiques|un seul examen normal n’élimine pas le diagnostic|il faut toujours rechercher une cause curable}.",
    "{Le bilan initial comprend|On demande en première intention} {examen} et {examen}.",
    "Le traitement {de fond|de première ligne|recommandé} de {maladie} repose sur {des mesures hygiéno-diététiques|une éducation thérapeutique|un traitement médicamenteux adapté} puis, si besoin, {medicament}.",
    "{Les complications|Les principales complications} de {maladie} sont {la décompensation aiguë|les infections récidivantes|l’atteinte rénale|le handicap fonctionnel}.",
    "{Exemple de question d’examen|Question fréquente} : quelle est la différence entre {maladie} et {maladie} ?",
    "{Pour mémoriser|Un moyen mnémotechnique pour retenir} les causes, on peut utiliser l’acronyme que vous avez vu en travaux dirigés.",
    "{La surveillance|Le suivi} repose sur {un examen clinique tous les trois mois|un dosage biologique annuel|une consultation spécialisée régulière}."
  ],
  recommandation: [
    "{Recommandation|Il est recommandé|Le groupe de travail recommande} de {dépister|rechercher systématiquement|évaluer} {maladie} chez les patients {à risque|de plus de 50 ans|diabétiques|présentant des facteurs de risque cardiovasculaire} (grade {grade}).",
    "En l’absence de données suffisantes, {il n’est pas possible de recommander|le groupe ne recommande pas} {examen} en première intention (accord d’experts).",
    "{Le traitement initial|En première intention, le traitement} de {maladie} {repose sur|doit comporter} {medicament} à la dose de {dose} {frequence} (grade {grade}).",
    "{Une réévaluation|Une consultation de suivi} est recommandée {à quatre semaines|après trois mois|à six mois} afin d’apprécier l’efficacité et la tolérance du traitement.",
    "{Chez le sujet âgé|Chez l’insuffisant rénal|Chez la femme enceinte}, {les doses doivent être adaptées|une surveillance biologique renforcée est nécessaire|certains traitements sont contre-indiqués}.",
    "{Il est recommandé|Le groupe recommande} d’informer le patient {des bénéfices et des risques du traitement|des signes devant faire consulter en urgence|de l’importance de l’observance}.",
    "{L’éducation thérapeutique|Un programme d’éducation thérapeutique} {doit être proposé|est recommandé} à tout patient atteint de {maladie} (grade {grade}).",
    "Ces recommandations {s’adressent|sont destinées} {aux médecins généralistes|aux spécialistes hospitaliers|à l’ensemble des professionnels de santé} prenant en charge {maladie}.",
    "{Le niveau de preuve|La qualité des études disponibles} est {élevé|modéré|faible}, ce qui justifie {une recommandation forte|un accord d’experts|une mise à jour rapide}.",
    "{En cas d’échec|Si les objectifs ne sont pas atteints}, {il est proposé d’associer|on peut envisager} {medicament} après avis spécialisé.",
    "{La prise en charge|Le parcours de soins} doit être {coordonnée entre la ville et l’hôpital|adaptée aux préférences du patient|réévaluée à chaque consultation}."
  ],
  forum: [
    "Bonjour à tous, {proche} {a été hospitalisé(e)|vient de sortir de l’hôpital|attend des résultats} pour {maladie} et je ne sais plus trop quoi penser.",
    "{Le médecin|Le cardiologue|Son généraliste} lui a prescrit du {medicament} {dose} {frequence}, est-ce que quelqu’un {a déjà pris ce traitement|connaît ce médicament|a eu des effets secondaires} ?",
    "{Depuis|Ça fait} {duree} qu’{il|elle} a {symptome}, {et rien ne passe|on a l’impression que ça empire|ça va un peu mieux depuis hier}.",
    "{Merci d’avance pour vos réponses|Merci à ceux qui prendront le temps de répondre|Toute expérience est la bienvenue} 🙏",
    "{Perso|De mon côté|Pour ma part}, j’ai eu {effet} {les premiers jours|pendant une semaine|au début} mais {ça s’est calmé|le médecin a changé la dose|j’ai continué quand même}.",
    "{N’hésitez pas|Il ne faut pas hésiter} à {rappeler le médecin|demander un deuxième avis|en parler au pharmacien}, {ils sont là pour ça|c’est important|on a le droit de poser des questions}.",
    "{Courage|Bon courage à vous|Je vous souhaite plein de courage}, {ça finit par aller mieux|on est passés par là aussi|tenez-nous au courant} !",
    "{Quelqu’un sait|Est-ce que vous savez} si {c’est normal d’avoir|on peut avoir} {effet} avec le {medicament} ?",
    "{On habite|Nous sommes} près de {ville} et l’attente pour un rendez-vous chez le spécialiste est de {trois|six|huit} mois, c’est {fou|décourageant|vraiment long}.",
    "{Moi aussi|Pareil pour moi}, {j’ai|mon mari a} {maladie} depuis {duree} et {on apprend à vivre avec|le traitement a tout changé|les débuts ont été difficiles}.",
    "{Édit|Mise à jour} : {les résultats sont bons|on a enfin eu le rendez-vous|le traitement a été modifié} 😊"
  ]
}

/** Contact and identity lines planted in documents so the PII scrubber can be measured. */
export const PII_LINES: Record<string, ReadonlyArray<string>> = {
  EMAIL: ["Vous pouvez m’écrire à {email} si vous préférez.", "Contact du service : {email}."],
  TELEPHONE: ["Le secrétariat est joignable au {phone}.", "Appelez-moi au {phone} après 18 h."],
  NIR: ["Numéro de sécurité sociale : {nir}.", "NIR du patient : {nir}."],
  IBAN: ["Pour la cagnotte, voici l’IBAN : {iban}.", "Remboursement sur le compte {iban}."],
  DATE_NAISSANCE: ["{Patient|Patiente} né(e) le {dob} à {ville}.", "Madame R., née le {dob}, est suivie dans le service."]
}

/** Sentences with clinical values that look like PII to a careless scrubber; they must survive. */
export const CLINICAL_DECOYS: ReadonlyArray<string> = [
  "La FEVG est mesurée à 35 % et le patient cumule 40 paquets-années.",
  "Admis le 12/03/2024, il reçoit 1 000 mg de paracétamol toutes les 6 heures.",
  "Le dossier n° 2023-004512 mentionne une hémoglobine à 10,2 g/dl.",
  "Les plaquettes sont à 145 000 /mm³ et les leucocytes à 12 400 /mm³.",
  "La dose cumulée atteint 1 200 mg sur 24 heures, sans dépasser 4 g par jour.",
  "Le score de Glasgow est à 14 et la saturation à 94 % sous 2 l/min d’oxygène.",
  "Le lot 45 12 78 90 12 du vaccin a été administré le 05.06.2023 à 10 h 30.",
  "Opérée le 14/02/2022, elle est revue le 21/03/2022 puis le 02/09/2022."
]

/** Other languages' medical sentences: documents that language identification must drop. */
export const FOREIGN: Record<"en" | "es" | "it" | "de", ReadonlyArray<string>> = {
  en: [
    "A {age}-year-old {man|woman} presented to the emergency department with {shortness of breath|chest pain|a high fever|severe abdominal pain} that had started {two days|a week|three hours} earlier.",
    "{His|Her} medical history included {type 2 diabetes|high blood pressure|asthma|chronic kidney disease} and {smoking|obesity|atrial fibrillation}.",
    "Blood tests showed a {raised|normal|very high} white cell count and a C-reactive protein of {84|156|23} mg/L.",
    "{A chest CT scan|An abdominal ultrasound|A brain MRI} {revealed|confirmed|ruled out} {pulmonary embolism|acute cholecystitis|a stroke}.",
    "The patient was treated with {intravenous antibiotics|anticoagulation|fluids and pain relief} and {recovered well|was discharged after five days|needed a second operation}.",
    "Take this medicine {once a day|twice a day|with food} and do not exceed the recommended dose without talking to your doctor.",
    "Side effects may include {nausea|headache|dizziness}, {tiredness|a dry cough|stomach pain} and, rarely, {an allergic reaction|bleeding|liver problems}.",
    "Patients should be reviewed {after four weeks|every three months|within six months} to check that the treatment works and is well tolerated."
  ],
  es: [
    "{Un hombre|Una mujer} de {age} años acudió a urgencias por {dolor torácico|fiebre alta|dificultad para respirar|dolor abdominal intenso} de {dos días|una semana|tres horas} de evolución.",
    "Entre sus antecedentes destacan {diabetes tipo 2|hipertensión arterial|asma|enfermedad renal crónica} y {tabaquismo|obesidad|fibrilación auricular}.",
    "La analítica mostró una proteína C reactiva de {84|156|23} mg/L y una hemoglobina de {12,4|9,8|14,1} g/dL.",
    "{La tomografía de tórax|La ecografía abdominal|La resonancia cerebral} {mostró|confirmó|descartó} {una embolia pulmonar|una colecistitis aguda|un ictus}.",
    "Se inició tratamiento con {antibióticos intravenosos|anticoagulación|sueroterapia} y la evolución fue {favorable|lenta|complicada}.",
    "Tome este medicamento {una vez al día|dos veces al día|con las comidas} y no supere la dosis recomendada sin consultar a su médico.",
    "Los efectos adversos más frecuentes son {náuseas|dolor de cabeza|mareos} y {cansancio|tos seca|dolor de estómago}."
  ],
  it: [
    "{Un uomo|Una donna} di {age} anni si è presentato al pronto soccorso per {dolore toracico|febbre alta|difficoltà respiratoria|dolore addominale} insorto da {due giorni|una settimana|tre ore}.",
    "Tra i precedenti si segnalano {diabete di tipo 2|ipertensione arteriosa|asma|insufficienza renale cronica} e {fumo di sigaretta|obesità|fibrillazione atriale}.",
    "Gli esami del sangue hanno mostrato una proteina C reattiva di {84|156|23} mg/L e un’emoglobina di {12,4|9,8|14,1} g/dL.",
    "{La TC del torace|L’ecografia addominale|La risonanza cerebrale} ha {evidenziato|confermato|escluso} {un’embolia polmonare|una colecistite acuta|un ictus}.",
    "È stata iniziata una terapia con {antibiotici per via endovenosa|anticoagulanti|liquidi} con un decorso {favorevole|lento|complicato}.",
    "Prenda questo medicinale {una volta al giorno|due volte al giorno|durante i pasti} e non superi la dose raccomandata senza parlarne con il medico.",
    "Gli effetti indesiderati più comuni sono {nausea|mal di testa|vertigini} e {stanchezza|tosse secca|mal di stomaco}."
  ],
  de: [
    "{Ein Mann|Eine Frau} im Alter von {age} Jahren stellte sich mit {Brustschmerzen|hohem Fieber|Atemnot|starken Bauchschmerzen} seit {zwei Tagen|einer Woche|drei Stunden} in der Notaufnahme vor.",
    "In der Vorgeschichte bestehen {ein Diabetes mellitus Typ 2|ein Bluthochdruck|ein Asthma|eine chronische Nierenerkrankung} sowie {ein Nikotinabusus|eine Adipositas|ein Vorhofflimmern}.",
    "Laborchemisch zeigte sich ein C-reaktives Protein von {84|156|23} mg/l bei einem Hämoglobin von {12,4|9,8|14,1} g/dl.",
    "{Die Computertomographie des Thorax|Die Sonographie des Abdomens|Die Kernspintomographie des Kopfes} {zeigte|bestätigte|schloss} {eine Lungenembolie|eine akute Cholezystitis|einen Schlaganfall} {|aus}.",
    "Die Behandlung erfolgte mit {intravenösen Antibiotika|einer Antikoagulation|Flüssigkeit} und der Verlauf war {günstig|langsam|kompliziert}.",
    "Nehmen Sie dieses Arzneimittel {einmal täglich|zweimal täglich|zu den Mahlzeiten} ein und überschreiten Sie nicht die empfohlene Dosis.",
    "Häufige Nebenwirkungen sind {Übelkeit|Kopfschmerzen|Schwindel} und {Müdigkeit|trockener Husten|Magenschmerzen}."
  ]
}

/** Low-quality documents of the kinds Gopher/C4 rules catch. */
export const JUNK: Record<string, (pick: (xs: ReadonlyArray<string>) => string) => string> = {
  navigation: (pick) =>
    Array.from({ length: 12 }, () => pick(["Accueil", "Contact", "Mentions légales", "Plan du site", "Connexion", "Newsletter", "Nos services", "Prendre rendez-vous"])).join(" | ") +
    "\n" + Array.from({ length: 8 }, () => "Accueil > Santé > Actualités > Article").join("\n"),
  "lorem-ipsum": () =>
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Le patient est venu pour un contrôle de routine et la consultation s’est bien passée. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat, et le traitement est poursuivi sans modification jusqu’à la prochaine visite.",
  "repeated-lines": (pick) => Array.from({ length: 20 }, () => `Promotion exceptionnelle sur les compléments alimentaires pour ${pick(["le cœur", "le foie", "les articulations"])} !`).join("\n"),
  "too-short": (pick) => `${pick(["Voir aussi la page précédente.", "Article supprimé.", "Page introuvable.", "Cliquez ici pour continuer."])}`,
  symbols: () => Array.from({ length: 40 }, (_, i) => `#santé #bienêtre #médecine${i} ...`).join(" "),
  code: () =>
    "function afficherPosologie(dose) { if (dose > 4000) { alert('Dose maximale dépassée'); } return dose / 4; }\n" +
    "Ce script calcule la dose de paracétamol à administrer à chaque prise pour le patient hospitalisé dans le service de médecine interne, à partir de la dose journalière saisie par l’infirmière, et affiche une alerte quand la dose maximale autorisée est dépassée pour la journée.",
  bullets: (pick) => Array.from({ length: 25 }, () => `• ${pick(["Vitamine C", "Magnésium marin", "Zinc", "Oméga 3", "Probiotiques"])} ${pick(["à prix cassé", "livraison offerte", "en stock", "offre limitée"])}`).join("\n")
}
