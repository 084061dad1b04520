# Sample clinical cases for extractive QA, written for fleuve in French (CC BY 4.0), in the style
# of CAS clinical cases. Each case: (context, [(question, answer span), ...]). The build script
# computes every answer_start from the context and refuses an answer that is absent or ambiguous.
CASES = [
    ("Monsieur D., 67 ans, fumeur à 40 paquets-années, est admis aux urgences pour une douleur thoracique rétrosternale constrictive survenue au repos et évoluant depuis deux heures. "
     "L’électrocardiogramme montre un sus-décalage du segment ST dans le territoire inférieur. La troponine est élevée à 850 ng/L. "
     "Une coronarographie en urgence retrouve une occlusion de l’artère coronaire droite, traitée par angioplastie avec pose d’un stent actif. "
     "Le patient sort au cinquième jour sous aspirine, ticagrélor, atorvastatine et bisoprolol.",
     [("Depuis combien de temps évolue la douleur thoracique ?", "deux heures"),
      ("Quelle artère est occluse ?", "l’artère coronaire droite"),
      ("Quelle est la valeur de la troponine ?", "850 ng/L"),
      ("Quel est le tabagisme du patient ?", "40 paquets-années")]),
    ("Madame L., 28 ans, sans antécédent, consulte pour des brûlures mictionnelles et une pollakiurie depuis trois jours, puis une fièvre à 39,2 °C et une douleur lombaire droite apparues la veille. "
     "La bandelette urinaire est positive aux leucocytes et aux nitrites. L’examen cytobactériologique des urines isole Escherichia coli à 10^5 UFC/mL. "
     "Une échographie rénale ne montre pas de dilatation des cavités pyélocalicielles. Un traitement par ceftriaxone est débuté puis relayé par ofloxacine pour une durée totale de sept jours.",
     [("Quelle est la température de la patiente ?", "39,2 °C"),
      ("Quel germe est isolé ?", "Escherichia coli"),
      ("Quel antibiotique est utilisé en relais ?", "ofloxacine"),
      ("Quelle est la durée totale du traitement ?", "sept jours")]),
    ("Un enfant de 6 ans est amené par ses parents pour une fièvre à 38,5 °C et une éruption prurigineuse apparue depuis 48 heures, faite de vésicules disséminées sur le tronc et le cuir chevelu, à des stades différents. "
     "Son frère aîné a présenté la même éruption dix jours auparavant. L’examen ne retrouve pas de signe de surinfection cutanée. "
     "Le diagnostic de varicelle est retenu. Le traitement associe paracétamol, soins locaux et antihistaminique ; l’ibuprofène est déconseillé.",
     [("Quel est l’âge de l’enfant ?", "6 ans"),
      ("Où siègent les vésicules ?", "sur le tronc et le cuir chevelu"),
      ("Quel diagnostic est retenu ?", "varicelle"),
      ("Quel médicament est déconseillé ?", "l’ibuprofène")]),
    ("Madame B., 74 ans, diabétique de type 2 traitée par metformine, est hospitalisée pour une confusion apparue progressivement sur quatre jours dans un contexte de diarrhée. "
     "Le bilan biologique montre une natrémie à 152 mmol/L, une créatininémie à 210 µmol/L et une glycémie à 28 mmol/L. "
     "La metformine est suspendue. Une réhydratation intraveineuse par soluté salé isotonique et une insulinothérapie sont instaurées, avec une amélioration de la vigilance en 48 heures.",
     [("Quel est le traitement antidiabétique habituel de la patiente ?", "metformine"),
      ("Quelle est la natrémie ?", "152 mmol/L"),
      ("Quelle est la créatininémie ?", "210 µmol/L"),
      ("En combien de temps la vigilance s’améliore-t-elle ?", "48 heures")]),
    ("Monsieur K., 45 ans, consulte pour une toux productive, une fièvre à 39,5 °C et une douleur basithoracique gauche d’apparition brutale. "
     "L’auscultation retrouve un foyer de crépitants à la base gauche. La radiographie thoracique montre une condensation alvéolaire systématisée du lobe inférieur gauche. "
     "La CRP est à 240 mg/L. Une pneumopathie franche lobaire aiguë est diagnostiquée et traitée en ambulatoire par amoxicilline pendant sept jours.",
     [("Où siège la condensation ?", "du lobe inférieur gauche"),
      ("Quelle est la valeur de la CRP ?", "240 mg/L"),
      ("Quel antibiotique est prescrit ?", "amoxicilline"),
      ("Quel diagnostic est porté ?", "pneumopathie franche lobaire aiguë")]),
    ("Madame R., 32 ans, enceinte de 34 semaines d’aménorrhée, consulte pour des céphalées intenses et des phosphènes. "
     "La pression artérielle est mesurée à 168/112 mmHg et la protéinurie des 24 heures est à 1,2 g. Les plaquettes sont à 95 G/L. "
     "Le diagnostic de prééclampsie sévère est posé. Après une corticothérapie de maturation fœtale et l’administration de sulfate de magnésium, une césarienne est réalisée.",
     [("À quel terme est la patiente ?", "34 semaines d’aménorrhée"),
      ("Quelle est la pression artérielle ?", "168/112 mmHg"),
      ("Quelle est la protéinurie des 24 heures ?", "1,2 g"),
      ("Quel traitement neuroprotecteur est administré ?", "sulfate de magnésium")]),
    ("Monsieur P., 58 ans, alcoolique chronique, est admis pour une hématémèse de grande abondance. "
     "À l’admission, la fréquence cardiaque est à 118 battements par minute et l’hémoglobine à 7,1 g/dL. "
     "L’endoscopie digestive haute, réalisée dans les 12 heures, retrouve des varices œsophagiennes de grade 3 qui sont ligaturées. "
     "Un traitement par terlipressine et une antibioprophylaxie par ceftriaxone sont associés.",
     [("Quelle est la fréquence cardiaque à l’admission ?", "118 battements par minute"),
      ("Quel est le taux d’hémoglobine ?", "7,1 g/dL"),
      ("Quelle lésion est retrouvée à l’endoscopie ?", "des varices œsophagiennes de grade 3"),
      ("Quel médicament vasoactif est utilisé ?", "terlipressine")]),
    ("Mademoiselle T., 19 ans, est amenée aux urgences pour des vomissements, des douleurs abdominales et une polypnée. Elle signale une polyurie et une perte de 5 kg en un mois. "
     "La glycémie capillaire est à 4,8 g/L, la cétonémie à 5,2 mmol/L et le pH artériel à 7,12. "
     "Le diagnostic d’acidocétose diabétique inaugurale est retenu. Une insulinothérapie intraveineuse à la seringue électrique et une supplémentation potassique sont débutées.",
     [("Combien de poids la patiente a-t-elle perdu ?", "5 kg"),
      ("Quel est le pH artériel ?", "7,12"),
      ("Quelle est la cétonémie ?", "5,2 mmol/L"),
      ("Quel diagnostic est retenu ?", "acidocétose diabétique inaugurale")]),
    ("Monsieur G., 71 ans, en fibrillation atriale non anticoagulée, présente brutalement une hémiplégie droite et une aphasie. "
     "Il est pris en charge 90 minutes après le début des symptômes. L’IRM cérébrale montre un infarctus sylvien gauche avec occlusion de l’artère cérébrale moyenne. "
     "Une thrombolyse intraveineuse par altéplase suivie d’une thrombectomie mécanique est réalisée. À trois mois, le patient marche seul.",
     [("Quel trouble du rythme présente le patient ?", "fibrillation atriale"),
      ("Quel déficit moteur présente-t-il ?", "hémiplégie droite"),
      ("Quel délai sépare les symptômes de la prise en charge ?", "90 minutes"),
      ("Quel thrombolytique est utilisé ?", "altéplase")]),
    ("Madame H., 41 ans, consulte pour une asthénie, une frilosité et une prise de poids de 6 kg en six mois. "
     "L’examen retrouve un goitre ferme et indolore. La TSH est à 38 mUI/L et la T4 libre est basse. Les anticorps anti-thyroperoxydase sont fortement positifs. "
     "Le diagnostic de thyroïdite de Hashimoto est posé et un traitement par lévothyroxine est débuté à dose progressive.",
     [("Quelle prise de poids la patiente décrit-elle ?", "6 kg en six mois"),
      ("Quelle est la TSH ?", "38 mUI/L"),
      ("Quels anticorps sont positifs ?", "Les anticorps anti-thyroperoxydase"),
      ("Quel traitement est débuté ?", "lévothyroxine")]),
    # Training pool cases (ids carry the -train suffix in the output).
    ("Monsieur V., 35 ans, consulte pour une douleur intense de la fosse lombaire gauche irradiant vers les organes génitaux externes, sans fièvre. "
     "La bandelette urinaire montre une hématurie. Le scanner abdominopelvien sans injection retrouve un calcul de 4 mm de l’uretère lombaire gauche. "
     "Le traitement associe un anti-inflammatoire non stéroïdien et des antalgiques ; le calcul est éliminé spontanément en cinq jours.",
     [("Où siège la douleur ?", "de la fosse lombaire gauche"),
      ("Quelle est la taille du calcul ?", "4 mm"),
      ("Quel examen d’imagerie est réalisé ?", "Le scanner abdominopelvien sans injection"),
      ("En combien de temps le calcul est-il éliminé ?", "cinq jours")]),
    ("Madame F., 63 ans, présente depuis trois mois une dyspnée d’effort et des œdèmes des membres inférieurs. "
     "L’échocardiographie montre une fraction d’éjection ventriculaire gauche à 30 %. Le NT-proBNP est à 4 200 pg/mL. "
     "Un traitement associant ramipril, bisoprolol, spironolactone et dapagliflozine est instauré, avec un diurétique de l’anse pour les œdèmes.",
     [("Depuis combien de temps la dyspnée évolue-t-elle ?", "trois mois"),
      ("Quelle est la fraction d’éjection ?", "30 %"),
      ("Quelle est la valeur du NT-proBNP ?", "4 200 pg/mL"),
      ("Quel inhibiteur de SGLT2 est prescrit ?", "dapagliflozine")]),
    ("Un nourrisson de 3 mois est hospitalisé en février pour une toux, une polypnée à 70 cycles par minute et des difficultés alimentaires. "
     "L’auscultation retrouve des sibilants et des crépitants diffus. La recherche virale nasopharyngée est positive au virus respiratoire syncytial. "
     "Le diagnostic de bronchiolite aiguë est retenu. La prise en charge repose sur la désobstruction nasale, le fractionnement de l’alimentation et une oxygénothérapie.",
     [("Quel est l’âge du nourrisson ?", "3 mois"),
      ("Quelle est la fréquence respiratoire ?", "70 cycles par minute"),
      ("Quel virus est identifié ?", "virus respiratoire syncytial"),
      ("Quel diagnostic est retenu ?", "bronchiolite aiguë")]),
    ("Monsieur N., 50 ans, présente une douleur brutale, une rougeur et un gonflement de la première articulation métatarsophalangienne droite survenus après un repas copieux. "
     "L’uricémie est à 540 µmol/L. La ponction articulaire montre des cristaux d’urate de sodium. "
     "Le diagnostic de crise de goutte est posé ; la colchicine soulage la douleur en 24 heures et un traitement par allopurinol est envisagé à distance.",
     [("Quelle articulation est atteinte ?", "la première articulation métatarsophalangienne droite"),
      ("Quelle est l’uricémie ?", "540 µmol/L"),
      ("Quels cristaux sont observés ?", "cristaux d’urate de sodium"),
      ("Quel traitement soulage la douleur ?", "la colchicine")]),
    ("Madame S., 26 ans, consulte pour des palpitations, une perte de poids de 4 kg, une thermophobie et un tremblement des extrémités. "
     "La TSH est effondrée et la T4 libre est élevée. Les anticorps anti-récepteurs de la TSH sont positifs et l’échographie montre un goitre vasculaire. "
     "Une maladie de Basedow est diagnostiquée ; un traitement par thiamazole et propranolol est débuté.",
     [("Quelle perte de poids est rapportée ?", "4 kg"),
      ("Quels anticorps sont positifs ?", "Les anticorps anti-récepteurs de la TSH"),
      ("Quel diagnostic est posé ?", "maladie de Basedow"),
      ("Quel antithyroïdien de synthèse est prescrit ?", "thiamazole")]),
]
N_TEST_CASES = 10
