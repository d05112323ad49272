"""Issue 13: one bad message, value or file never hurts anything else (the pure parts)."""

from __future__ import annotations

from gateway.config import Area
from gateway.render import Renderer

AREAS = [Area("hightown", "Hightown", "hightown", ("LL13 7",)), Area("rhosddu", "Rhosddu", "rhosddu", ())]


def test_the_confirmation_request_names_the_areas_and_keeps_its_words_apart():
    text = Renderer().render("alerts/confirm_request", areas=AREAS, resident_name="")
    assert "alerts for Hightown and Rhosddu to be sent to this address." in " ".join(text.split())
    assert "Rhosdduto" not in text and "Hightownto" not in text
