"""The online form's words, in English and Welsh, short and plain (a reading age of about
nine). The Welsh is the project's own translation: have it read by a Welsh speaker before
the form goes live, as for the mail templates."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Contact your local police team",
        "emergency": "Not for emergencies: if someone is in danger now, call 999; for other police matters "
                     "that need attention soon, call 101.",
        "warning": "Warning",
        "switch": "Cymraeg",
        "switch_lang": "cy",
        "intro": "Type in your message and press the button. We will reply within {days} working days.",
        "message": "Your message",
        "message_hint": "Tell us what is happening and where. Do not put in bank details or passwords.",
        "email": "Your email address",
        "email_hint": "So we can answer you.",
        "no_email": "I have no email: please phone me",
        "phone": "Your phone number",
        "phone_hint": "Only if you have no email. We will call you on this number.",
        "name": "Your name (optional)",
        "place": "Your postcode (optional)",
        "place_hint": "This helps us send your message to the right team, for example LL13 7AB.",
        "area": "Or choose your area (optional)",
        "area_none": "Choose an area",
        "files": "Photos or documents (optional)",
        "files_hint": "Up to 3 files, {mb} MB in all.",
        "button": "Send message",
        "trap": "Leave this empty",
        "error_title": "There is a problem",
        "error_prefix": "Error:",
        "err_message": "Enter your message",
        "err_email": "Enter an email address in the correct format, like name@example.com",
        "err_email_ours": "Enter your own email address, not ours",
        "err_email_ascii": "Use an address with only English letters, or leave it out",
        "err_resent": "This page had already been sent: press the button again to send this message",
        "sorry": "Sorry, we could not take your message: please try again, or email {address}",
        "err_contact": "Enter your email address, or tick \u201cI have no email\u201d and give a phone number",
        "err_phone": "Enter a phone number, like 01632 960 001 or 07700 900 982",
        "err_files": "Choose no more than 3 files",
        "err_big": "The files are too big: choose smaller ones, or send fewer",
        "err_expired": "This page had expired: press the button again",
        "err_quick": "Check your message, then press the button again",
        "err_cookie": "This page needs a cookie to know the message is from you. Allow cookies for this site, "
                      "then press the button again",
        "done_title": "Message sent",
        "done_ref": "Your reference is",
        "done_ref_later": "We have your message. Your reference will be in the email we send you.",
        "done_ref_phone": "We have your message. We will phone you.",
        "next": "What happens next",
        "next_reply": "We will reply by {due}.",
        "next_email": "We have sent an email to the address you gave. If you do not get it, check your spam "
                      "or junk folder.",
        "next_phone": "We will phone you on the number you gave.",
        "next_keep": "Keep your reference. It helps us find your message.",
        "another": "Send another message",
        "urgent_now": "If someone is in danger now, call 999 now.",
        "urgent_why": "Your message may be about someone in danger. Do not wait for our reply.",
        "later_title": "Please try again later",
        "later": "You have sent a lot of messages from this computer or phone. Please try again after {time}.",
        "later_help": "If someone is in danger now, call 999. For other police matters, call 101.",
    },
    "cy": {
        "title": "Cysylltu \u00e2\u2019ch t\u00eem plismona lleol",
        "emergency": "Nid ar gyfer argyfyngau: os oes rhywun mewn perygl nawr, ffoniwch 999; ar gyfer materion "
                     "eraill i\u2019r heddlu sydd angen sylw yn fuan, ffoniwch 101.",
        "warning": "Rhybudd",
        "switch": "English",
        "switch_lang": "en",
        "intro": "Teipiwch eich neges a phwyso\u2019r botwm. Byddwn yn ateb o fewn {days} diwrnod gwaith.",
        "message": "Eich neges",
        "message_hint": "Dywedwch wrthym beth sy\u2019n digwydd a ble. Peidiwch \u00e2 rhoi manylion banc na "
                        "chyfrineiriau.",
        "email": "Eich cyfeiriad e-bost",
        "email_hint": "Er mwyn i ni allu eich ateb.",
        "no_email": "Does gen i ddim e-bost: ffoniwch fi",
        "phone": "Eich rhif ff\u00f4n",
        "phone_hint": "Dim ond os nad oes gennych e-bost. Byddwn yn eich ffonio ar y rhif hwn.",
        "name": "Eich enw (dewisol)",
        "place": "Eich cod post (dewisol)",
        "place_hint": "Mae hyn yn ein helpu i anfon eich neges at y t\u00eem iawn, er enghraifft LL13 7AB.",
        "area": "Neu dewiswch eich ardal (dewisol)",
        "area_none": "Dewiswch ardal",
        "files": "Lluniau neu ddogfennau (dewisol)",
        "files_hint": "Hyd at 3 ffeil, {mb} MB i gyd.",
        "button": "Anfon neges",
        "trap": "Gadewch hwn yn wag",
        "error_title": "Mae problem",
        "error_prefix": "Gwall:",
        "err_message": "Rhowch eich neges",
        "err_email": "Rhowch gyfeiriad e-bost yn y ffurf gywir, fel enw@example.com",
        "err_email_ours": "Rhowch eich cyfeiriad e-bost eich hun, nid ein un ni",
        "err_email_ascii": "Defnyddiwch gyfeiriad gyda llythrennau Saesneg yn unig, neu gadewch ef allan",
        "err_resent": "Roedd y dudalen hon wedi\u2019i hanfon yn barod: pwyswch y botwm eto i anfon y neges hon",
        "sorry": "Mae\u2019n ddrwg gennym, ni allem gymryd eich neges: rhowch gynnig arall arni, neu anfonwch "
                 "e-bost at {address}",
        "err_contact": "Rhowch eich cyfeiriad e-bost, neu ticiwch \u201cDoes gen i ddim e-bost\u201d a rhoi rhif ff\u00f4n",
        "err_phone": "Rhowch rif ff\u00f4n, fel 01632 960 001 neu 07700 900 982",
        "err_files": "Dewiswch ddim mwy na 3 ffeil",
        "err_big": "Mae\u2019r ffeiliau\u2019n rhy fawr: dewiswch rai llai, neu anfonwch lai",
        "err_expired": "Roedd y dudalen hon wedi dod i ben: pwyswch y botwm eto",
        "err_quick": "Gwiriwch eich neges, yna pwyswch y botwm eto",
        "err_cookie": "Mae angen cwci ar y dudalen hon i wybod mai chi sy\u2019n anfon y neges. Caniatewch gwcis "
                      "ar gyfer y wefan hon, yna pwyswch y botwm eto",
        "done_title": "Neges wedi\u2019i hanfon",
        "done_ref": "Eich cyfeirnod yw",
        "done_ref_later": "Mae gennym eich neges. Bydd eich cyfeirnod yn yr e-bost y byddwn yn ei anfon atoch.",
        "done_ref_phone": "Mae gennym eich neges. Byddwn yn eich ffonio.",
        "next": "Beth sy\u2019n digwydd nesaf",
        "next_reply": "Byddwn yn ateb erbyn {due}.",
        "next_email": "Rydym wedi anfon e-bost i\u2019r cyfeiriad a roesoch. Os na chewch chi e, edrychwch yn "
                      "eich ffolder sbam neu sothach.",
        "next_phone": "Byddwn yn eich ffonio ar y rhif a roesoch.",
        "next_keep": "Cadwch eich cyfeirnod. Mae\u2019n ein helpu i ddod o hyd i\u2019ch neges.",
        "another": "Anfon neges arall",
        "urgent_now": "Os oes rhywun mewn perygl nawr, ffoniwch 999 nawr.",
        "urgent_why": "Efallai bod eich neges am rywun mewn perygl. Peidiwch ag aros am ein hateb.",
        "later_title": "Rhowch gynnig arall yn nes ymlaen",
        "later": "Rydych wedi anfon llawer o negeseuon o\u2019r cyfrifiadur neu\u2019r ff\u00f4n hwn. Rhowch gynnig "
                 "arall ar \u00f4l {time}.",
        "later_help": "Os oes rhywun mewn perygl nawr, ffoniwch 999. Ar gyfer materion eraill i\u2019r heddlu, "
                      "ffoniwch 101.",
    },
}


def language(query: str, accept_language: str) -> str:
    """The page's language: ?lang= first, then the browser's Accept-Language (the first of
    Welsh or English it prefers), else English."""
    if query in WORDS:
        return query
    ranked = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, *params = part.strip().split(";")
        quality = _quality(params)
        if quality > 0:   # q=0: "not this language" (RFC 9110, 12.4.2)
            ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in WORDS:
            return tag
    return "en"


def _quality(params: list[str]) -> float:
    """A language range's q value: 1 when not given, 0 when it cannot be read."""
    for param in params:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
