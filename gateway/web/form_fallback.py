"""The online form's page for when something unexpected went wrong with a submission:
written here, not from the templates (an administrator's broken template may be what went
wrong). A message already stored is never lost: the page then says it is taken; otherwise
it says plainly to try again, or to email the surgery."""

from __future__ import annotations

from html import escape

from aiohttp import web

from gateway.web.form_words import WORDS

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/surgery/style.css">
</head>
<body>
<main class="gw-width" id="main-content">
<p class="govuk-body"><strong>{emergency}</strong></p>
<h1 class="govuk-heading-l">{title}</h1>
<p class="govuk-body">{said}</p>
<p class="govuk-body"><a href="/surgery?lang={lang}">{another}</a></p>
</main>
</body>
</html>
"""


def page(lang: str, headers: dict, address: str, stored: bool, phone_only: bool = False) -> web.Response:
    """The page: "we have your message" (200) when it was stored, else "sorry" (500)."""
    words = WORDS[lang if lang in WORDS else "en"]
    if stored:
        title, said = words["done_title"], words["done_ref_phone" if phone_only else "done_ref_later"]
    else:
        title, said = words["error_title"], words["sorry"].format(address=address)
    text = PAGE.format(lang=escape(lang), title=escape(title), said=escape(said), emergency=escape(words["emergency"]),
                       another=escape(words["another"]))
    return web.Response(text=text, status=200 if stored else 500, content_type="text/html", charset="utf-8",
                        headers=headers)
