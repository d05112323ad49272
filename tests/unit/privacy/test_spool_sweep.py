"""The spool files `gateway erase` deletes: those naming the resident's address in their
headers or text, even encoded, or one of her cases' references; no others."""

from __future__ import annotations

from email.message import EmailMessage

from gateway.privacy.erasure import sweep_spool


def _eml(to: str, subject: str, body: str, cte: str = "7bit") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "surgery@surgery.example.org", to, subject
    msg.set_content(body, cte=cte)
    return msg.as_bytes()


def test_files_naming_her_or_her_case_go_and_others_stay(tmp_path):
    files = {
        "to-her.eml": _eml("ann@example.net", "Re: Your message [SRG-2026-0001]", "Dear resident"),
        "quoting-her-in-base64.eml": _eml("team@police.example", "New case", "From: Ann <ANN@example.net>\n",
                                          cte="base64"),
        "her-case-copy.eml": _eml("team@police.example", "[SRG-2026-0001] Bikes", "We will patrol."),
        "joann.eml": _eml("joann@example.net", "Re: Your message [SRG-2026-0002]", "Dear resident"),
        "longer-domain.eml": _eml("ann@example.net.uk", "Re: [SRG-2026-00012]", "Dear resident"),
        "case-ten.eml": _eml("team@police.example", "[SRG-2026-00010] Litter", "ann@example.netball is not her"),
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / ".in-flight.eml.123.tmp").write_bytes(files["to-her.eml"])
    gone = sweep_spool(tmp_path, "ann@example.net", ["SRG-2026-0001"])
    assert sorted(p.name for p in gone) == ["her-case-copy.eml", "quoting-her-in-base64.eml", "to-her.eml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".in-flight.eml.123.tmp", "case-ten.eml", "joann.eml",
                                                           "longer-domain.eml"]
    assert sweep_spool(tmp_path / "no-such-folder", "ann@example.net", []) == []
