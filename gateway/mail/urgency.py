"""Is someone in danger now? Pure: text in, a decision and the words that made it out.

This is the one place where reading a message wrong can cost a life, so it leans towards
flagging: a false alarm costs a resident a sentence about 999, a miss may cost far more.

Two halves. The clause rules below read a message clause by clause: a clause is urgent when it
names a danger (a weapon, violence, a threat, self-harm, a child in danger, a break-in,
dangerous driving, a fire) and nothing in it says the danger is not live (the past, an idiom, a
general question, a remark about the subject, an all-clear). On messages written by people who
never saw them they found fewer than half of the urgent ones: danger is often written without a
danger word (a goodbye, someone hiding, a child by water, a time and a place).
So the decision is made by two small logistic models (gateway.mail.danger), trained by a script
in the repository on some 4,500 labelled messages written independently in English and Welsh.
One reads the message in windows of three sentences (danger buried in a long email is read in
its own neighbourhood; the message is as urgent as its most urgent window), the other reads it
whole (a window that sounds like danger in a message about a novel or a court case that is
over); both see the words, the situations of danger.concepts, the tense markers of
danger.tense and what the clause rules found. A message is urgent when their mixed score is at
or above the threshold chosen by leaving one writer out at a time. `Urgency.why` gives the
rules' words when they fired, otherwise the words of the situations and the words that weighed
most in the window that decided.
Weighed and not used: a sentence-embedding model (the one that ships inside its package needs
PyTorch, some 700 MB, and explains nothing) and spaCy (its models are fetched at install).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from gateway.mail.danger import concepts, features, model, tense


def _words(*alternatives: str) -> re.Pattern:
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])", re.IGNORECASE)


# What is dangerous, by kind. Welsh forms include the mutations (cyllell, gyllell, nghyllell).
DANGER = {
    "weapon": _words(
        r"knife", r"knives", r"blades?", r"machetes?", r"axe", r"hammer", r"(?:baseball )?bats?", r"guns?",
        r"firearms?", r"shotgun", r"(?:air )?rifle", r"pistol", r"crowbar", r"(?:samurai )?swords?",
        r"broken (?:bottle|glass)", r"bottles? being thrown", r"screwdriver", r"sticks", r"weapons?",
        r"petrol bombs?", r"bomb", r"knifepoint", r"gunshots?",
        r"c[yh]?llell", r"gyllell", r"nghyllell", r"c?g?yllyll", r"[bf]wyell", r"[mf]orthwyl", r"gwn",
        r"dryll", r"ddryll", r"[mf]achete", r"[td]rosol", r"ffyn", r"cleddyf", r"arfau?", r"gwn aer",
        r"[bp]astwn", r"[pb]otel wedi torri", r"gwydr wedi torri", r"[mf]om", r"ngwn"),
    "violence": _words(
        r"hits?", r"hitting", r"punch(?:es|ing|ed)?", r"kick(?:s|ing|ed)?", r"stab(?:s|bed|bing)?", r"beats",
        r"beat(?:ing|en)", r"throwing (?:\w+ )?(?:at|onto|off) (?:people|us|me|cars|children|kids|them|the cars)",
        r"throwing (?:bricks|stones|tiles|bottles|rocks)",
        r"beating", r"attack(?:ing|ed)?", r"fight(?:ing)?", r"brawl", r"assault(?:ing|ed)?", r"strangl\w*",
        r"chok(?:ing|ed)", r"dragg(?:ed|ing)", r"grabb(?:ed|ing)", r"grabs", r"smash(?:ing|ed)", r"stamping",
        r"ramming", r"shoot(?:ing)?", r"shot at", r"threatening", r"bleeding", r"blood", r"groaning",
        r"screaming (?:for help|\W?help)", r"on the (?:floor|ground)", r"not moving", r"isn'?t moving",
        r"not breathing", r"unconscious", r"collapsed", r"trapped", r"held down", r"being followed",
        r"following (?:me|her|him)", r"exposing himself", r"locked me in",
        r"[td]h?aro", r"nharo", r"[cg]icio", r"[td]rywanu", r"[cg]uro", r"ymosod", r"ffeit", r"ffrwgwd",
        r"ymladd", r"[td]agu", r"thagu", r"gwaedu", r"sgrechian am help", r"ar lawr",
        r"ddim yn symud", r"ddim yn anadlu", r"anymwybodol", r"malu", r"saethu", r"[dn]?fy? nilyn",
        r"bygwth", r"[dn]?dyrnu", r"waldio", r"[cg]olbio", r"[cg]weir", r"[bf]wrw", r"chwalu", r"[ae]nafu",
        r"[bf]rifo", r"ymosodiad", r"[gc]wffio", r"[dt]h?aflu (?:\w+ )?at", r"llusgo", r"gafael yn",
        r"glassed", r"bottled", r"slash(?:ed|ing)", r"mugg(?:ed|ing)", r"robbing", r"hurting", r"injured",
        r"smacking", r"slapping", r"battering", r"thrown at"),
    "threat": _words(
        r"(?:going to|gonna|will|'ll|threaten(?:s|ing|ed)? to|says? (?:he|she|they)(?:'ll| will)) "
        r"(?:kill|hurt|stab|shoot|burn|smash)\w*", r"kill (?:me|my|us|you|him|her)", r"shoot us",
        r"am (?:fy|ei|ein|eich) ?lladd", r"bygwth (?:lladd|fy|ei)", r"ladd (?:fy|ei) ngŵr"),
    "self_harm": _words(
        r"kill (?:myself|himself|herself)", r"end (?:my|his|her) life", r"suicid\w*", r"overdos\w*",
        r"taken too many", r"too many (?:pills|tablets)", r"tablets ready", r"pills ready",
        r"don'?t want to (?:be here|live)", r"cut (?:her|his|my) wrists", r"jump off", r"knife to (?:his|her) own",
        r"saying goodbye", r"lladd (?:fy|ei) hun", r"hunanladdiad", r"ddim (?:isio|eisiau) byw",
        r"gormod o dabledi", r"tabledi yn barod", r"garddyrnau", r"neidio oddi ar"),
    "child": _words(
        r"(?:child|kid|boy|girl|baby|toddler)s? (?:about \d+ )?(?:is |are )?(?:wandering|alone|on (?:his|her) own|"
        r"left in a car|hanging|on the railway)", r"kids on the railway", r"left in a car", r"attacking a child",
        r"plentyn bach ar ei ben", r"[bf]abi wedi ei adael", r"wedi (?:ei|eu) adael mewn car", r"ymosod ar blentyn"),
    "intrusion": _words(
        r"break(?:ing)? in(?:to)?", r"trying to (?:get|break) in", r"trying the (?:windows|doors?)",
        r"trying door handles", r"door handles", r"climbing (?:through|in)", r"forcing (?:their|his|her) way",
        r"(?:someone|somebody|they)(?:'s| is| are)? in my (?:house|car|flat)", r"kicking (?:the |a )?(?:front )?door",
        r"kicking in doors", r"smashed my window", r"coming round the back", r"trying to come in",
        r"torri i mewn", r"trio dod (?:i )?mewn", r"rhywun yn y t[yŷ]", r"dringo drwy", r"trio'r ffenestri",
        r"cicio drws", r"dod i mewn"),
    "driving": _words(
        r"driving (?:on the pavement|at|towards)", r"mounts?(?:ed)? the kerb", r"ploughed into", r"swerving",
        r"drunk driver", r"drove off", r"racing", r"nearly hit", r"just missed", r"hit by a car",
        r"gyrru ar y palmant", r"gyrrwr meddw", r"rasio", r"yrrodd i ffwrdd", r"tharo gan gar", r"bron â [tdn]h?aro"),
    "fire": _words(
        r"set(?:ting)? fire", r"set (?:it|them) alight", r"on fire", r"alight", r"petrol", r"burn (?:our|the|my|his|her) "
        r"(?:house|home|flat)\w*", r"burn\w* down", r"smoke coming", r"arson", r"ar d[aâ]n", r"rhoi t[aâ]n",
        r"rhoi dân", r"llosgi'r t[yŷ]"),
}
# Signs that it is happening now.
LIVE = _words(
    r"now", r"right now", r"as i (?:type|write|speak)", r"as we speak", r"at the moment", r"currently",
    r"(?:is|are|'s|'re) still", r"still (?!not|hasn|haven|isn|aren|no\b|nothing)\w+ing", r"still (?:here|there|outside|inside)",
    r"just (?:now|seen|saw|happened|text\w*|nearly|threatened|smashed)", r"happening", r"tonight",
    r"i can (?:hear|see)", r"we can hear", r"please (?:help|send|come|hurry)", r"send someone", r"hurry", r"help",
    r"is being", r"are being", r"keeps?", r"here now", r"on the phone to me",
    r"r[ŵw]an", r"nawr", r"ar hyn o bryd", r"yn digwydd", r"dal", r"newydd", r"dwi'?n (?:clywed|gweld)",
    r"dan ni'?n (?:clywed|gweld)", r"help", r"plis", r"brysiwch", r"anfonwch")
PAST = _words(
    r"yesterday", r"last (?:night|week|weekend|month|year|term|summer|winter|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)", r"ago", r"earlier", r"back in", r"in (?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)", r"in (?:19|20)\d\d", r"over christmas", r"the other day",
    r"was", r"were", r"had", r"happened", r"used to", r"saw", r"last time",
    r"ddoe", r"neithiwr", r"wythnos diwethaf", r"fis diwethaf", r"mis diwethaf", r"llynedd", r"yn [oô]l",
    r"roedd", r"oedd", r"cafodd", r"gafodd", r"bu", r"dros y nadolig", r"ym mis \w+",
    r"(?!(?:rhoi|dod|codi))\w{2,}odd")
# Not an event at all: an idiom, a remark about the subject, an all-clear, a joke.
NOT_AN_EVENT = _words(
    r"killing me", r"kill for", r"dying (?:to|for)", r"murder on", r"(?:a )?danger to \w+", r"death trap",
    r"(?:kill|hurt) someone one day", r"get hurt one day", r"one day", r"nightmare", r"not an emergency",
    r"no emergency", r"awareness", r"talk about", r"a talk", r"amnesty", r"in the paper", r"programme",
    r"documentary", r"films?", r"video games?", r"on (?:the )?tv", r"telly", r"drill", r"what to do if",
    r"if you see", r"what happens", r"the law on", r"is it (?:legal|true|allowed)", r"is that allowed",
    r"not a threat", r"nothing physical", r"nobody (?:was )?hurt", r"no one (?:was )?hurt", r"wasn'?t hurt",
    r"(?:he|she|they) (?:was|were|is|are|'s|'re) fine", r"chopping (?:logs|wood)", r"for work", r"fishing",
    r"fireworks", r"seagull", r"a fox", r"pigeons", r"bonfire", r"battered \d", r"gangster", r"like cat and dog",
    r"for protection", r"crime number",
    r"yn fy lladd i", r"beryg bywyd", r"berygl i \w+", r"ddim yn argyfwng", r"dim argyfwng",
    r"lladd rhywun rhyw ddydd", r"rhyw ddydd", r"sgwrs am", r"troseddau cyllyll", r"gyfreithlon",
    r"chafodd neb", r"ddim wedi brifo", r"roedd o'?n iawn", r"dim byd corfforol", r"dim bygythiad",
    r"t[aâ]n gwyllt", r"wrth chwarae", r"llif gadwyn", r"beth i'?w wneud", r"bysgota")
JOKING = _words(r"only joking", r"just joking", r"jk", r"haha+", r"lol", r"dim ond jocian", r"jocian")
QUESTION_START = re.compile(r"^\W*(?:is|are|can|could|do|does|should|would|what|how|where|why|when|has|have|"
                            r"ydy|ydi|oes|allech|allwch|beth|sut|ble|pam|pryd|ddylen)\b", re.IGNORECASE)
CLAUSE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+|\s+(?:but|ond)\s+", re.IGNORECASE)
MAX_CHARS = 20_000
TAIL_CHARS = 5_000   # of a longer message, its last this many characters are read too


@dataclass
class Urgency:
    urgent: bool = False
    why: list[str] = field(default_factory=list)   # the words that decided: danger first, then liveness


def assess(text: str, extra_phrases: tuple[str, ...] = ()) -> Urgency:
    """Whether a resident's message says someone may be in danger now, and why."""
    text = normal(text)
    extra = _extra(text, extra_phrases)
    if extra:
        return Urgency(True, extra)
    scored = model.shipped()
    score, chunk = scored.score(*read(text))
    if score < scored.threshold:
        return Urgency(False, [])
    return Urgency(True, rules(text).why or _weighed(scored, chunk))


def normal(text: str) -> str:
    """The text as every reader here sees it (and as the model was trained on it). Of a
    longer text, its start and its end (what someone adds at the bottom of a long complaint):
    a bounded amount, so a huge message cannot stall the check."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS - TAIL_CHARS] + "\n\n" + text[-TAIL_CHARS:]
    return unicodedata.normalize("NFKC", text).replace("’", "'")


def _weighed(scored: model.Model, chunk: str, most: int = 4) -> list[str]:
    """What counted most in the window that decided, as words an officer can check: the words
    of the situations found, strongest first, then single words that weighed heavily (short
    words such as "dwi" or "the" carry weight in the model but tell an officer nothing)."""
    found = [(scored.weight_of(f"k:{name}"), words) for name, words in concepts.found(chunk)]
    why = [words for weight, words in sorted(found, key=lambda pair: -pair[0]) if weight > 0]
    heavy = sorted({w for w in features.words(chunk) if len(w) >= 4 and w.isalpha()},
                   key=lambda w: -scored.weight_of("w:" + w))
    why += [w for w in heavy if scored.weight_of("w:" + w) > 0.5 and not any(w in p for p in why)]
    return why[:most] or [" ".join(chunk.split()[:8])]


def rules(text: str) -> Urgency:
    """The clause rules alone (the model reads what they found as features of its own)."""
    text = normal(text)
    joking = bool(JOKING.search(text))
    live_anywhere = LIVE.search(text)
    for clause in CLAUSE_SPLIT.split(text):
        found = _clause(clause.strip(), joking, live_anywhere)
        if found:
            return Urgency(True, found)
    return Urgency(False, [])


def _clause(clause: str, joking: bool, live_anywhere) -> list[str]:
    if not clause:
        return []
    danger = [(kind, m.group(0)) for kind, pattern in DANGER.items() for m in [pattern.search(clause)] if m]
    if not danger or NOT_AN_EVENT.search(clause):
        return []
    live = _live(clause)
    if clause.rstrip().endswith("?") and QUESTION_START.search(clause) and not live:
        return []   # a general question ("is a fishing knife a weapon?")
    kinds = {kind for kind, _ in danger}
    if joking and kinds <= {"threat", "violence"}:
        return []
    if PAST.search(clause) and not live and not _present(clause):
        return []
    why = [word for _, word in danger]
    sign = live or (live_anywhere if not PAST.search(clause) else None)
    return why + ([sign.group(0)] if sign else [])


PRESENT = re.compile(r"\b(?:is|are|'s|'re|am|'m)\s+(?:\w+ing|being|stood|sat|lying|on fire|in my|outside)\b|"
                     r"\bthere(?:'s| is| are)\b|\b(?:mae|maen|ma|dwi|rydw|dan ni|da ni)\b", re.IGNORECASE)


def _live(clause: str):
    """A sign of the present in the clause, not counting one inside a question tacked on
    ("... last week, are there more patrols now?")."""
    for part in clause.split(","):
        if not QUESTION_START.search(part) or not part.rstrip().endswith("?"):
            found = LIVE.search(part)
            if found:
                return found
    return None


def _present(clause: str) -> bool:
    return bool(PRESENT.search(clause))


def _extra(text: str, phrases: tuple[str, ...]) -> list[str]:
    """Phrases an administrator added ([urgent] phrases): each flags a message on its own."""
    if not phrases:
        return []
    flat = " ".join(text.lower().split())
    return [p for p in phrases if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", flat)]


RULE_PATTERNS = (*((kind, pattern) for kind, pattern in DANGER.items()),
                 ("live", LIVE), ("past", PAST), ("not_event", NOT_AN_EVENT), ("joking", JOKING))
# For the model's features the same patterns are searched in lower-cased text, without
# IGNORECASE: twice as fast, and the same matches (their words are all lower case).
_LOWER = tuple((name, re.compile(pattern.pattern)) for name, pattern in RULE_PATTERNS)
ANY_RULE = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in RULE_PATTERNS))


def rule_names(chunk: str) -> set[str]:
    """What the clause rules see in a stretch of text, as features for the model."""
    lowered = chunk.lower()
    if not ANY_RULE.search(lowered):   # one search instead of a dozen where there is nothing
        return set()
    found = {f"r:{name}" for name, pattern in _LOWER if pattern.search(lowered)}
    if found & {f"r:{kind}" for kind in DANGER} and rules(chunk).urgent:
        found.add("r:flag")
    return found


def read(text: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The model's features of a message (shared with training): each window with its own, and
    those of the message whole.
    Each sentence is read once; a window has what its sentences have (words, situations, rule
    findings, tense markers), the pairs of those found among them, and what the message as a
    whole holds ("m:"), so a window that reads like danger is weighed with the rest of the
    message ("a scene in my novel", "it was all over by ten"). The message whole has everything
    its windows have, and the pairs of neighbouring words in each sentence."""
    sentences = features.sentences(text)
    tokens = [features.words(s) for s in sentences]
    words = [features.names(t) for t in tokens]
    found = [rule_names(s) | concepts.names(s) | tense.names(s) for s in sentences]
    out = []
    for lo, hi in features.spans(len(sentences)):
        situations = sorted(set().union(*found[lo:hi]))
        pairs = {f"x:{a}&{b}" for i, a in enumerate(situations) for b in situations[i + 1:]}
        out.append((" ".join(sentences[lo:hi]), set().union({"b:"}, *words[lo:hi]) | set(situations) | pairs))
    if len(out) > 1:
        whole = {f"m:{name}" for name in set().union(*found)}
        out = [(chunk, names | whole) for chunk, names in out]
    return out, set().union(*(names for _, names in out), *(features.pairs(t) for t in tokens))
