"""Quoted-text trimming: keep what the writer just wrote, drop the history under it.

Cuts at the first line that starts quoted history ("On ... wrote:", an Outlook header block,
"-----Original Message-----"), at a signature delimiter or a confidentiality footer, and
drops trailing ">" quotes. Never trims to nothing: if nothing would be left, the whole text
is kept. A first version: bench/trim_corpus.py measures it (figures in bench/RESULTS.md).
"""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" and its translations; clients wrap it over two lines.
ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|op|il|em|den|på|w dniu|ar)\b.{0,300}?"
    r"(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev|napisał|ysgrifennodd)"
    r"[^:\n]{0,100}:\s*$",
    re.IGNORECASE | re.DOTALL)
ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|oorspronkelijk bericht|neges wreiddiol)\s*-{2,}\s*$", re.IGNORECASE)
HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|van|da|fra|från|od|oddi wrth|gan)\s*:\*?\s", re.IGNORECASE)
HEADER_OTHER = re.compile(
    r"^\s*\*?(sent|date|to|subject|cc|gesendet|datum|an|betreff|envoyé|à|objet|enviado|para|asunto|"
    r"verzonden|aan|onderwerp|anfonwyd|at|pwnc|dyddiad)\s*:", re.IGNORECASE)
SIGNATURE = re.compile(r"^(-- ?|—+|_{10,})$|^\s*sent from my \w+|^\s*get outlook for", re.IGNORECASE)
FOOTER = re.compile(
    r"^\s*(this (e-?mail|message)( and any (files|attachments))? (is|are|may be|contains?) "
    r"(confidential|intended|private)|the information (contained )?in this (e-?mail|message)|"
    r"confidentiality notice|disclaimer:|mae'r e-?bost hwn|rhybudd:)", re.IGNORECASE)

CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|(?:\+44\s?|\b0)\d{2,4}[\s-]?\d{3}[\s-]?\d{3,4}\b")
MAX_SIGNATURE_LINES = 6


def trim(text: str) -> str:
    """The new text of a reply, without quoted history, signature or footer."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _cut_index(lines)
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    kept = _without_signature_block(kept)
    result = "\n".join(kept).strip()
    return result if result else text.strip()


def _cut_index(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if ORIGINAL_MESSAGE.match(line) or SIGNATURE.match(line.rstrip()) or FOOTER.match(line):
            return i
        if ATTRIBUTION.match(line) or (i + 1 < len(lines) and ATTRIBUTION.match(f"{line} {lines[i + 1]}")
                                       and not lines[i + 1].lstrip().startswith(">")):
            return i
        if HEADER_FROM.match(line) and any(HEADER_OTHER.match(n) for n in lines[i + 1:i + 4]):
            return i
        if line.lstrip().startswith(">") and _quoted_to_end(lines[i:]):
            return i
    return len(lines)


def _without_signature_block(lines: list[str]) -> list[str]:
    """Drop a last paragraph that looks like a signature (a few short lines carrying an email
    address or a phone number) when there is text above it."""
    blanks = [i for i, line in enumerate(lines) if not line.strip()]
    if not blanks:
        return lines
    start = blanks[-1] + 1
    block = lines[start:]
    if (0 < len(block) <= MAX_SIGNATURE_LINES and all(len(line) <= 80 for line in block)
            and any(CONTACT.search(line) for line in block) and any(l.strip() for l in lines[:start])):
        return lines[:blanks[-1]]
    return lines


def _quoted_to_end(lines: list[str]) -> bool:
    """Whether everything from here on is quoted or blank (quotes inside a reply survive)."""
    return all(not line.strip() or line.lstrip().startswith(">") for line in lines)
