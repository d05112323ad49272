"""Situations, in English and Welsh, that the model reads as features of their own.

Danger is often written without a danger word: a goodbye, a hiding place, a child by water, a
time and a place. Each concept below names a situation by the words people use for it (with
Welsh mutations and the spellings people type); the model learns how much each one counts and
in what company, and the team's copy names the concepts that counted. They are classes of
wording, not phrases lifted from examples: each list is what a call handler listens for.
"""

from __future__ import annotations

import re


def _any(*alternatives: str) -> re.Pattern:
    """One situation's wording, in lower case: it is searched in lower-cased text (twice as fast
    as a search that ignores case, and the same matches)."""
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


CHILD = (r"(?:little |small |young )?(?:kids?|child(?:ren)?|toddlers?|bab(?:y|ies)|boys?|girls?|lad|lass|"
         r"my (?:son|daughter)|little one|infant|pupils?|plentyn|plant|blentyn|phlentyn|babi|crwt|crots|hogyn|"
         r"hogan|hogia|bachgen|fachgen|merch fach|hogan fach|ferch fach|bychan|rhai bach)")

CONCEPTS: dict[str, re.Pattern] = {
    # Saying goodbye, being a burden, arrangements for after: calm words of suicidal intent.
    "goodbye": _any(
        r"goodbye", r"good ?bye to", r"sorry for everything", r"tell (?:my )?(?:mum|mom|mam|dad|wife|husband|kids|"
        r"family|children|sister|brother)\b[^.]{0,30}(?:sorry|love)", r"by the time (?:you|anyone) reads?",
        r"won'?t be (?:around|here|a problem|a burden)", r"(?:a |any )?burden", r"can'?t (?:go on|do this any ?more|cope)",
        r"(?:had|have) enough of (?:life|everything|it all)", r"no point (?:in )?(?:living|going on|anymore|any more)",
        r"end (?:it|it all|things)", r"finish (?:my|it) (?:life|all)", r"(?:left|leaving|written) (?:a )?(?:letter|note)s? for",
        r"look after (?:my|the) (?:cat|dog|kids|children|boys|girls)", r"(?:the )?spare key", r"not be here (?:tomorrow|by)",
        r"after tonight", r"nobody (?:will|needs? to) (?:miss|worry)", r"thank(?:s| you) for (?:everything|trying)",
        r"ffarwel", r"hwyl fawr i bawb", r"sori am bob (?:dim|peth)", r"erbyn i (?:chi|rywun) ddarllen", r"yn faich",
        r"ddim isio bod yma", r"dim pwynt", r"sdim pwynt", r"wedi cael digon", r"diwedd (?:arni|ar bopeth)",
        r"ar [oô]l heno", r"gadael llythyr", r"llythyr i (?:mam|dad)", r"diolch am (?:bob (?:dim|peth|cymwynas)|drio)",
        r"dweud wrth (?:mam|dad)", r"i'?m done", r"(?:i'?ve|i have) decided", r"not wake up", r"go to sleep (?:and|forever)",
        r"razor", r"blades? (?:out|ready)", r"won'?t be needing", r"given (?:away )?(?:the|my) (?:dog|cat|things)",
        r"paid (?:the rent|off)", r"and then not", r"gas is on", r"hose ?pipe", r"exhaust", r"taped", r"cutting (?:myself|again|deep)",
        r"deep enough", r"stops? for good", r"llyncu popeth", r"llond bol", r"fydd hi heno", r"ddim yn bwriadu",
        r"sori am hyn", r"(?:been )?(?:really )?(?:low|depressed)", r"isel", r"iselder", r"dim ots gen i", r"sdim ots 'da fi", r"gweud sori wrth bawb", r"dweud sori wrth bawb", r"wedi penderfynu", r"ddim yn deffro eto", r"cysgu am byth", r"weud wrth (?:mam|dad)", r"allwedd sb[aâ]r", r"dim angen i neb boeni",
        r"fedra i ddim (?:mwy|cario mlaen)", r"alla i ddim (?:mwy|cario mlaen|ymdopi)"),
    # The means or the place: the pills taken, a bridge, a roof, a railway line.
    "means": _any(
        r"(?:all )?(?:the |my )?(?:pills|tablets|paracetamol|meds|medication)", r"swallowed", r"taken (?:all|the lot)",
        r"(?:a |the )?rope", r"bridge", r"footbridge", r"roof(?:top)? edge", r"on the (?:roof|edge|ledge|parapet)",
        r"railway (?:line|track)s?", r"train tracks?", r"cliffs?", r"multi[- ]?storey", r"jump(?:ing)?",
        r"tabledi", r"dabledi", r"pils", r"llyncu", r"wedi cymryd", r"rhaff", r"pont", r"bont", r"ar ben (?:y |pont|to)",
        r"rheilffordd", r"dibyn", r"clogwyn", r"neidio", r"tablets?", r"pob tabled\w*", r"cymryd (?:pob|y cyfan|popeth)",
        r"engine (?:on|running)", r"(?:garage|car) door(?:s)? (?:shut|closed)", r"injan (?:ymlaen|yn rhedeg)", r"quarry",
        r"(?:walk|walking|go|going) (?:in)?to the (?:sea|river|water|canal)", r"chwarel", r"i mewn i'?r (?:m[oô]r|afon|d[wŵ]r|gamlas)",
        r"y lein", r"trac(?:iau)?", r"trains? (?:is |are )?(?:due|coming)", r"tr[eê]n yn dod"),
    # A hazard that can kill: a live wire, a collapsing structure, smoke, gas, flames.
    "hazard": _any(
        r"sparking", r"spark(?:s|ing)? (?:and|&) buzz\w*", r"power ?lines?", r"live wires?", r"cables? (?:down|hanging)",
        r"wires? (?:down|lying|across)", r"(?:falling|fallen|coming down) (?:on|onto|into)", r"collaps\w*", r"swaying", r"about to fall",
        r"smoke", r"smell of (?:burning|gas)", r"gas (?:leak|smell)", r"flames?", r"burning", r"fumes",
        r"gwreichion\w*", r"gwifren", r"gwifrau", r"ceblau", r"yn disgyn (?:ar|i)", r"mwg", r"llosgi", r"fflamau", r"nwy", r"ogla llosgi",
        r"arogl llosgi", r"ar fin disgyn", r"siglo", r"wedi disgyn (?:ar|i)", r"disgyn ar y", r"on the (?:a\d+|m\d+|motorway|dual carriageway|bypass)",
        r"cars? (?:coming|going|flying)", r"traffic (?:coming|going|swerving)", r"(?:lost|shed) (?:its|a|their) load", r"loose (?:on|in) the road",
        r"ar yr? (?:a\d+|m\d+|draffordd|ffordd osgoi)", r"ceir yn dod", r"traffig yn dod", r"swerv\w*", r"gwyro", r"colli llwyth", r"pylon", r"peilon"),
    # Someone hiding or writing in secret from the person who is a danger to them.
    "hiding": _any(
        r"hiding", r"hid(?:e|den)? (?:in|under)", r"locked (?:myself|ourselves|the door|in the)", r"lock the door",
        r"(?:in|from) the (?:bathroom|toilet|loo|wardrobe|cupboard|shed)", r"under the (?:bed|stairs)",
        r"whisper\w*", r"(?:he|she) can'?t (?:know|hear|see)", r"don'?t (?:call|ring|phone)", r"can'?t (?:talk|speak|call)",
        r"if (?:he|she) finds? (?:me|out|this)", r"when (?:he|she) finds? me", r"on silent",
        r"cuddio", r"guddio", r"wedi cloi", r"cloi'?r drws", r"yn y (?:stafell ymolchi|stafell molchi|toiled|cwpwrdd|sied)",
        r"o dan y gwely", r"sibrwd", r"peidiwch (?:ffonio|galw)", r"pan (?:fydd|neith) e'?n? (?:ffeindio|dod o hyd)"),
    # A child by a road, water or a height, alone, or being taken.
    "child_place": re.compile(
        CHILD + r"\W+(?:\w+\W+){0,8}?(?:road|dual carriageway|motorway|a\d+|traffic|water|river|canal|sea|harbour|"
        r"pond|lake|reservoir|ice|roof|edge|railway|tracks?|window ?ledge|balcony|alone|on (?:his|her|their) own|"
        r"by (?:him|her)self|van|car|ffordd|lôn|lon|traffig|dŵr|dwr|afon|camlas|m[oô]r|harbwr|pwll|llyn|rhew|to'?r|"
        r"ar ei ben ei hun|ar ei phen ei hun|ar ben (?:ei|eu) hunain|fan|car)\b"),
    "taken": _any(
        r"(?:pulled|dragged|bundled|pushed|forced|grabbed|put) (?:\w+ ){0,3}(?:into|in) (?:a|the|his|her|their) (?:van|car|vehicle|taxi)",
        r"snatched", r"(?:to|going to|will|'ll) take (?:him|her|them|my|the (?:child|kids|boy|girl))", r"mynd (?:a|â) (?:hi|fo|fe|nhw|'?r plant)", r"abduct\w*", r"took (?:her|him|them) (?:away|off)", r"drove off with", r"won'?t let (?:her|him|me) (?:go|leave)",
        r"(?:tynnu|llusgo|gwthio|cipio|chipio) (?:\w+ ){0,3}i mewn i'?r? (?:fan|car)", r"cipio", r"chipio",
        r"mynd (?:a|â) (?:hi|fo|fe|nhw) (?:i ffwrdd|bant)", r"gadael i (?:fi|mi|hi|fo|fe) fynd"),
    # Someone still there: inside, heard moving, a torch in the dark.
    "still_there": _any(
        r"still (?:inside|in (?:the|my|our)|there|here|outside|at|out the front|out the back|going)", r"(?:is|are|'s|'re) inside",
        r"in (?:my|our|the) (?:house|flat|shop|garden|shed|garage|back (?:store|room|garden)|loft)",
        r"(?:can|could) (?:hear|see) (?:them|him|her|someone|somebody|people|a man|men|torches?)", r"moving (?:about|around|boxes)",
        r"torch(?:es|light)?", r"right outside", r"out(?:side)? (?:the|my|our) (?:window|door|house)", r"waiting (?:outside|for me)",
        r"(?:is|are|'s|'re) (?:sat|stood|standing|sitting|parked) (?:outside|at|in)",
        r"let (?:himself|herself|themselves) in", r"won'?t (?:leave|go away|get out)", r"refus(?:es|ing) to leave",
        r"dal (?:tu mewn|yn y|yna|yma|tu allan|tu fas|i fod)", r"gwrthod gadael", r"gwrthod mynd", r"wedi dod i mewn", r"(?:yn|tu) mewn (?:i'?r|yn y)", r"yn y (?:t[yŷ]|fflat|siop|ardd|sied|garej)",
        r"(?:dwi|wy|rwy|rydw i)'?n (?:clywed|gweld|gallu clywed|gallu gweld)", r"clywaf", r"gwelaf", r"tort[sc]h",
        r"tu allan i'?r (?:ffenest|drws|t[yŷ])", r"tu fas i'?r (?:ffenest|drws|t[yŷ])", r"yn aros (?:tu allan|amdana i)"),
    # A threat tied to a time or a place: the school gate at three, after my shift, tonight.
    "when_where": _any(
        r"at \d{1,2}(?:[:.]\d\d)?(?: ?[ap]\.?m\.?| o'?clock)?", r"\d{1,2} ?[ap]\.?m\.?", r"o'?clock", r"tonight", r"this (?:evening|afternoon)",
        r"after (?:school|work|my shift|dark)", r"when (?:i|you|she|he) (?:finish|get|leave|come)", r"tomorrow", r"later today",
        r"(?:be|is|'ll be) waiting", r"(?:at|outside) the (?:school|gates?|house|shop|station)", r"on (?:my|her|his) way",
        r"heno", r"o'?r gloch", r"am \d{1,2}", r"ar [oô]l (?:ysgol|gwaith|shifft|iddi dywyllu)", r"pan (?:fi'?n|dwi'?n|rwy'?n|fydda i'?n)",
        r"fory", r"yfory", r"pnawn 'ma", r"prynhawn (?:ma|heddiw)", r"yn aros", r"ar (?:fy|ei) ffordd"),
    # A person who may be dying or hurt: not waking, not breathing, blood.
    "body": _any(
        r"not (?:waking|breathing|moving|responding|answering)", r"on the (?:\w+ )?floor", r"since (?:this )?(?:morning|last night)",
        r"can'?t get up", r"fallen", r"ar (?:y )?llawr", r"wedi disgyn", r"methu codi", r"won'?t wake", r"can'?t wake", r"unconscious",
        r"passed out", r"blue lips", r"blood(?:y)?", r"bleeding", r"fitting", r"face down",
        r"ddim yn (?:deffro|anadlu|symud|ateb)", r"anymwybodol", r"gwaed", r"gwaedu", r"llewygu"),
    # A threat made: I'll, he'll, you're dead, watch your back, make sure you never.
    "threat_words": _any(
        r"(?:i'?ll|he'?ll|she'?ll|they'?ll|we'?ll|i will|he will|they will|gonna|going to) (?:get|sort|do|finish|deal with|teach|make sure)",
        r"you'?re dead", r"dead man", r"watch (?:your|ur) back", r"you'?ll (?:see|regret|be sorry)", r"make sure (?:you|u|she|he) never",
        r"see what happens", r"last warning", r"or else", r"i know where you live", r"knows where (?:i|we) live",
        r"mi (?:wna|wnaf) i", r"mi neith o", r"fe wnaf", r"bydd (?:e|o|hi)'?n", r"bydda i'?n", r"gei di weld", r"cei di weld",
        r"rhybudd ola", r"dwi'?n gwybod lle ti'?n byw", r"neud yn si[wŵ]r",
        r"(?:will|'ll|going to|gonna) (?:break|smash|do|get|burn|torch|kill|stab|hurt) (?:my|your|ur|his|her|their|the|you|u|him|her|them)",
        r"come (?:in )?for (?:you|u|me|her|him)", r"(?:do|sort|deal with) (?:him|her|them|you) (?:in|over|properly)", r"dod amdanat",
        r"dod amdana i", r"'?wneud'? rhywun", r"dim ond unwaith", r"dy ladd", r"ei ladd", r"ei lladd", r"eich lladd", r"yn llosgi", r"dod i dy d[yŷ]", r"mynd i dy",
        r"(?:burn|torch) (?:the|your|ur|our) (?:place|shed|house|shop|car|van)", r"[lt]h?osgi'?r (?:lle|t[yŷ]|sied|siop|car|fan)"),
    # Caught by water, tide, ice, fire or height, or a person at risk gone missing.
    "stranded": _any(
        r"tide", r"stuck (?:on|in|out)", r"cut off", r"can'?t swim", r"up to (?:their|his|her|my) (?:waist|neck|chest)s?",
        r"swept", r"current", r"went under", r"through the ice", r"in the water", r"trapped", r"can'?t get out",
        r"missing", r"hasn'?t come home", r"not come home", r"met (?:online|on the internet)", r"won'?t let (?:her|him) out",
        r"dementia", r"alzheimer'?s?", r"learning disabilit\w*", r"vulnerable", r"confused", r"wander(?:ed|ing) (?:off|out)",
        r"(?:gone|went) out (?:of the house|in (?:his|her) (?:pyjamas|nightie|nightgown|slippers))", r"in (?:his|her) (?:pyjamas|nightgown|nightie|slippers)",
        r"freezing", r"hypotherm\w*", r"g[wŵ]n nos", r"dryslyd", r"bregus", r"rhewi", r"anabledd dysgu",
        r"llanw", r"yn sownd", r"methu nofio", r"yn y d[wŵ]r", r"ar goll", r"heb ddod adra", r"heb ddod gartre",
        r"wedi (?:ei|eu) ddal", r"methu dod allan"),
    # A threat to come back, or to harm unless paid: extortion and revenge with a deadline.
    "coming_back": _any(
        r"come back", r"coming back", r"be back", r"return(?:ing)?", r"if (?:i|we|you) (?:not|don'?t|do not) pay",
        r"unless (?:i|we|you) pay", r"with me inside", r"(?:they'?ll|he'?ll|she'?ll|they will|he will|she will) be back",
        r"(?:bydd|bydden|byddan|fydd|fydden|fyddan)(?: nhw| e| o| hi)?'?n [oô]l", r"dychwelyd", r"dod yn [oô]l", r"os na (?:fyddaf|wna i|dwi) (?:yn )?talu",
        r"os na (?:dalaf|thala i)"),
    # Watching a crime happen: tools at work, the sound of it.
    "crime_seen": _any(
        r"cutting (?:the|a) (?:lock|chain|catalytic)", r"bolt ?cutters", r"jack(?:ing|ed)? up", r"(?:i'?m|we'?re|i am) watching (?:him|them|her)",
        r"trying (?:car|door) handles", r"looking (?:in|into) cars", r"crowbar", r"jemmy", r"sound of (?:glass|breaking)",
        r"under (?:my|the|a|his|her|\w+'s) (?:\w+ )?(?:car|van|vehicle|prius|lorry)", r"(?:peeling|stripping|taking) (?:the )?lead",
        r"loading (?:\w+ ){0,3}(?:into|onto) (?:a|the) (?:van|trailer|truck)", r"siphon\w*",
        r"llif yn torri", r"torri'?r? clo", r"torrwr bollt\w*", r"cutting (?:a|the|her|his|my) (?:bike )?lock", r"llwytho", r"o dan (?:y|ei|fy) (?:car|fan)", r"gwylio (?:nhw|fo|fe|hi)", r"trio drysau",
        r"(?:taking|having) the wheels off", r"tynnu'?r olwynion", r"(?:is|are|'s|'re) (?:nicking|stealing|pinching)", r"yn dwyn"),
    # The sounds of someone being hurt, heard through a wall or from the street.
    "sounds": _any(
        r"thuds?", r"thudding", r"bang(?:s|ing)? (?:after|against|on the wall)", r"crash(?:es|ing)", r"scream(?:s|ing)",
        r"crying", r"begging", r"pleading", r"someone being (?:hit|hurt|beaten)", r"getting (?:hit|battered|a beating)",
        r"clec(?:iau)?", r"clec ar [oô]l clec", r"sgrech\w*", r"crio", r"erfyn", r"ymbil\w*", r"cael (?:ei|ei ch) (?:tharo|churo|daro|guro)"),
    # Fear and being alone with it.
    "fear": _any(
        r"scared", r"frightened", r"terrified", r"afraid", r"petrified", r"panicking", r"shaking",
        r"on my own", r"alone (?:in|with|at)", r"no one else (?:is )?(?:here|home)", r"don'?t know what (?:he|she|they)'?ll do",
        r"ofn", r"ofnus", r"arswyd", r"crynu", r"ar (?:fy|ben fy) (?:mhen fy )?hun", r"ar ben fy hun", r"wrth fy hun"),
    # Drink, drugs and rage in the person who is a danger.
    "aggressor_state": _any(
        r"drunk", r"drinking", r"off (?:his|her) head", r"high on", r"raging", r"lost it", r"kicking off", r"going mental",
        r"losing it", r"smashing (?:the place|things|stuff)", r"throwing (?:things|stuff)",
        r"meddw", r"yfed", r"colli (?:ei|ei ben|ei limpyn)", r"gwyllt", r"taflu pethau", r"malu pethau"),
    # What says it is not happening: over and dealt with, a question about the law, something
    # seen in the news or a game, a course, animals, building work. These lower the score.
    "over": _any(
        r"long gone", r"already (?:reported|got a crime)", r"crime (?:ref|reference|number|no)\w*", r"(?:i'?m|we'?re|i am) (?:ok|okay|fine|safe) now",
        r"not hurt", r"nobody (?:was )?hurt", r"no one (?:was )?hurt", r"all sorted", r"it'?s (?:sorted|over)", r"just the game",
        r"nothing (?:has )?happened", r"for the record", r"for your records", r"rhif trosedd", r"dim byd (?:'?di|wedi) digwydd",
        r"(?:dwi|rydw i)'?n (?:iawn|saff) (?:rwan|nawr)", r"neb wedi brifo", r"wedi hen fynd"),
    "law_question": _any(
        r"am i allowed", r"are we allowed", r"is it (?:legal|illegal|allowed|an offence|against the law)", r"legal to",
        r"illegal", r"can i (?:carry|hit|use|keep|own|get done)", r"can u get done", r"what (?:is|'s) the law", r"the law (?:on|says)",
        r"licen[cs]e", r"certificate", r"renewal", r"licensing", r"what (?:are|is) the rules?", r"the rules (?:on|about|for)",
        r"do i need (?:a|to)", r"is there a (?:law|rule)", r"(?:is it|would it be) (?:a crime|an offence)",
        r"cyfreithlon", r"yn erbyn y gyfraith", r"ga i (?:gario|daro|ddefnyddio)", r"y gyfraith", r"trwydded",
        r"tystysgrif", r"adnewyddu", r"(?:ydi|ydy|yw) hi'?n drosedd", r"(?:beth|be) (?:yw|ydi|ydy)'?r rheolau", r"y rheolau",
        r"oes (?:rhaid|angen) (?:i mi|i fi|imi)", r"(?:ydw|ydi|ydy) i'?n cael", r"a (?:yw|ydyw)'?n anghyfreithlon", r"anghyfreithlon"),
    "media": _any(
        r"news", r"bbc", r"itv", r"paper", r"article", r"tiktok", r"facebook", r"instagram", r"youtube", r"film", r"movie",
        r"documentary", r"series", r"netflix", r"game", r"call of duty", r"gta", r"fortnite", r"novel", r"book", r"script",
        r"drama", r"play", r"newyddion", r"papur", r"ffilm", r"gêm", r"gem", r"llyfr", r"nofel", r"sgript"),
    "training": _any(
        r"course", r"training", r"session", r"workshop", r"class", r"talk", r"seminar", r"register", r"book (?:a|my) place",
        r"first aid", r"awareness", r"hyfforddiant", r"sesiwn", r"cwrs", r"gweithdy", r"dosbarth", r"sgwrs", r"cofrestru",
        r"cymorth cyntaf"),
    "animals": _any(
        r"dogs?", r"cats?", r"fox(?:es)?", r"sheep", r"lambs?", r"chickens?", r"hens?", r"seagulls?", r"gulls?", r"pigeons?",
        r"badgers?", r"rats?", r"horses?", r"cows?", r"birds?", r"spaniel", r"ci", r"cŵn", r"cwn", r"cath", r"cathod", r"llwynog",
        r"defaid", r"dafad", r"ŵyn", r"wyn", r"ieir", r"gwylanod", r"ceffyl", r"gwartheg", r"adar", r"crows?", r"magpies?",
        r"brain", r"pi[oa]d", r"lambs?", r"cwningod", r"rabbits?"),
    "sport_hobby": _any(
        r"cricket", r"football", r"rugby", r"golf", r"clay pigeon", r"archery", r"boxing", r"martial arts", r"karate",
        r"fencing", r"paintball", r"airsoft", r"shooting (?:club|range|ground)", r"club", r"match", r"pitch", r"league",
        r"practi[cs]e", r"pêl[- ]droed", r"pel[- ]droed", r"criced", r"clwb", r"gêm b[eê]l", r"saethyddiaeth", r"bocsio"),
    "organising": _any(
        r"organis\w+", r"charity", r"fundraiser", r"production", r"staging", r"open day", r"fete", r"festival", r"rehearsal",
        r"costumes?", r"props?", r"fancy dress", r"halloween", r"event", r"invitation", r"trefnu", r"elusen", r"cynhyrchiad",
        r"diwrnod agored", r"gŵyl", r"gwyl", r"gwisg ffansi", r"digwyddiad", r"gwahoddiad", r"ymarfer"),
    "lost_found": _any(
        r"found (?:a|an|some|this)", r"lost (?:my|a|our)", r"left (?:in|on) (?:my|the) (?:taxi|cab|bus|train)", r"hand (?:it|them) in",
        r"where (?:do|shall|can) i (?:take|bring|drop|hand)", r"lost property", r"ffeindio", r"ffeindiais", r"wedi colli",
        r"ble (?:dwi'?n|ydw i'?n) mynd (?:a|â)", r"lle dwi'?n mynd (?:a|â)", r"eiddo coll"),
    "not_urgent": _any(
        r"not urgent", r"no (?:rush|hurry)", r"non[- ]urgent", r"when you (?:get a chance|have a moment|can)", r"heads up",
        r"in case anyone (?:rings|calls|reports|worries)", r"just so you know", r"for information", r"dim brys", r"ddim yn fater brys",
        r"pan gewch chi gyfle", r"rhag ofn i (?:rywun|unrhyw un) (?:ffonio|boeni)", r"er gwybodaeth"),
    "building_work": _any(
        r"angle grinder", r"nail gun", r"chainsaw", r"drill(?:ing)?", r"tiles", r"railings", r"knocking (?:through|thru)",
        r"demolition", r"builders?", r"scaffold\w*", r"renovat\w*", r"llif gadwyn", r"adeiladwyr", r"teils", r"sgaffald"),
}


def names(chunk: str) -> set[str]:
    """The concepts found in a stretch of text, as model features. (One search of all of them
    joined by "|" first, to skip the sentences that hold none, was measured: it is two to three
    times slower than the searches one by one, even where three sentences in four hold none.)"""
    chunk = chunk.lower()
    return {f"k:{name}" for name, pattern in CONCEPTS.items() if pattern.search(chunk)}


def found(chunk: str) -> list[tuple[str, str]]:
    """(concept, the words that matched) for the team's copy."""
    out = []
    chunk = chunk.lower()
    for name, pattern in CONCEPTS.items():
        match = pattern.search(chunk)
        if match:
            out.append((name, match.group(0)))
    return out
