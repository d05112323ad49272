"""When a sentence sets what it tells: the past, the present, a hypothesis, the future, a question.

The same danger words are urgent in the present ("he is kicking the door") and ordinary in the
past ("he kicked the door last year, it's all sorted") or as a hypothesis ("what should I do if
he kicks the door?"). The words alone cannot say which; these markers, in English and Welsh, are
features of each sentence (`t:past`, `t:now`, ...) and of the message as a whole, and the model
learns how they weigh with the situations around them. Markers, not grammar: "-ed" and "-odd"
endings, the forms of "to be", the words for yesterday and tonight.
"""

from __future__ import annotations

import re


def _any(*alternatives: str) -> re.Pattern:
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")   # searched in lower case


MARKERS: dict[str, re.Pattern] = {
    "past": _any(
        r"was", r"were", r"had", r"did", r"didn'?t", r"ago", r"yesterday", r"earlier", r"\w+ed", r"got", r"went", r"came",
        r"took", r"left", r"saw", r"said", r"last (?:night|week|month|year|time|summer|winter|weekend)",
        r"roedd", r"oedd", r"ro'?n", r"bu", r"buodd", r"ddoe", r"neithiwr", r"llynedd", r"diwethaf", r"dwetha", r"\w+odd",
        r"naeth", r"nath", r"gath", r"cafodd", r"wedi bod", r"yn [oô]l", r"aeth", r"daeth", r"ddaeth"),
    "now": _any(
        r"is", r"are", r"'s", r"'re", r"am", r"'m", r"\w+ing", r"now", r"still", r"right now", r"at the moment",
        r"can (?:hear|see)", r"keeps?",
        r"mae", r"maen", r"ma", r"dwi", r"dw i", r"rydw i", r"wy", r"rwy", r"r[wŵ]an", r"nawr", r"dal", r"ar hyn o bryd",
        r"newydd"),
    "hypothesis": _any(
        r"if", r"would", r"could", r"should", r"what if", r"suppose", r"imagine", r"in case", r"ever", r"might",
        r"os", r"petai", r"pe bai", r"tasa", r"tase", r"be tasa", r"rhag ofn", r"byth", r"erioed", r"gallai", r"dylwn"),
    "future": _any(
        r"will", r"'ll", r"going to", r"gonna", r"tonight", r"tomorrow", r"later",
        r"bydd", r"fydd", r"bydda", r"heno", r"fory", r"yfory", r"nes ymlaen"),
    "question": re.compile(r"\?"),
}


def names(sentence: str) -> set[str]:
    """The tense markers in a sentence, as model features."""
    sentence = sentence.lower()
    return {f"t:{name}" for name, pattern in MARKERS.items() if pattern.search(sentence)}
