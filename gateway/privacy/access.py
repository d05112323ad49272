"""Subject access (DPA 2018, UK GDPR): `gateway export --resident A --out F` writes everything
held about one resident to a folder (or F.zip) with index.html, data.json and each message as
it arrived (.eml) and as text.

A message is a resident's when they sent it (its From, or the envelope sender when it has
none); mail is theirs when it was sent to them. In a case two residents wrote into, each
one's export holds only what they sent or were sent. An officer's notes on a case are not
exported: a person decides what of them to disclose (a police force's exemptions, DPA 2018
s.45(4)), from `gateway case show`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import jinja2

from gateway import db
from gateway.config import Settings
from gateway.mail.parse import parse
from gateway.render import packaged_templates


def sent_by(address: str):
    """Whether an inbound message was sent by `address`: its From, else its envelope sender."""
    address = address.lower()

    def theirs(message: db.intake.Message) -> bool:
        sender = parse(bytes(message.raw or b"")).from_address.lower() if message.raw else ""
        return sender == address if sender else (message.mail_from or "").lower() == address
    return theirs


def _stamp(value) -> str | None:
    """A moment as ISO 8601 in UTC (a date as a date)."""
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    # db.utc: an aware moment (now) is turned to UTC first, so it never reads "+00:00Z"
    return db.utc(db.as_datetime(value)).isoformat(timespec="seconds") + "Z"


def _message(kind: str, row, folder: str) -> tuple[dict, dict[str, bytes]]:
    """One message for the export: its entry in data.json, and its files (.eml and .txt)."""
    raw = bytes(row.raw or b"")
    parsed = parse(raw) if raw else None
    name = f"{folder}/{kind}-{row.id}"
    entry = {"id": f"{kind}:{row.id}", "subject": parsed.subject if parsed else "",
             "message_id": row.message_id, "text": parsed.text if parsed else ""}
    if kind == "in":
        entry |= {"received_at": _stamp(row.received_at), "from": parsed.from_address if parsed else row.mail_from,
                  "source": row.source}
    else:
        entry |= {"to": row.rcpt_to, "queued_at": _stamp(row.created_at), "sent_at": _stamp(row.sent_at),
                  "state": row.state, "purpose": row.purpose}
        if not raw and row.bulletin:   # a bulletin copy is rendered as it is sent: its words are the bulletin's
            bulletin = db.bulletins.get(row.bulletin)
            if bulletin is not None:
                entry |= {"subject": bulletin.subject, "text": bulletin.body}
    files = {}
    if raw:
        files[f"{name}.eml"] = raw
        entry["eml"] = f"{name}.eml"
    files[f"{name}.txt"] = entry["text"].encode("utf-8")
    entry["text_file"] = f"{name}.txt"
    return entry, files


def gather(settings: Settings, address: str, now: dt.datetime, actor: str) -> tuple[dict, dict[str, bytes]]:
    """data.json's contents and every file of the export, for one resident."""
    address = address.strip().lower()
    held = db.privacy.held_about(address, sent_by(address))
    files: dict[str, bytes] = {}
    cases = []
    for case, mine, mail in held.cases:
        yours = case.resident_address == address
        team = settings.team(case.team)
        entry = {"reference": case.reference, "team": team.name if team else case.team,
                 "opened_by_you": yours, "status": case.status if yours else None,
                 "subject": case.subject if yours else None, "opened_at": _stamp(case.opened_at) if yours else None,
                 "reply_due": _stamp(case.due_date) if yours else None, "messages_from_you": [], "mail_to_you": []}
        for row in mine:
            item, more = _message("in", row, f"cases/{case.reference}")
            entry["messages_from_you"].append(item)
            files |= more
        for row in mail:
            item, more = _message("out", row, f"cases/{case.reference}")
            entry["mail_to_you"].append(item)
            files |= more
        cases.append(entry)
    other_in, other_out = [], []
    for row in held.other_messages:
        item, more = _message("in", row, "other")
        other_in.append(item)
        files |= more
    for row in held.other_mail:
        item, more = _message("out", row, "other")
        other_out.append(item)
        files |= more
    data = {
        "resident": address, "exported_at": _stamp(now), "exported_by": actor, "controller": settings.domain,
        "cases": cases, "other_messages_from_you": other_in, "other_mail_to_you": other_out,
        "subscriber": {k: _stamp(v) if k == "created_at" else v for k, v in (held.subscriber or {}).items()} or None,
        "subscriptions": [{k: _stamp(v) if k.endswith("_at") else v for k, v in s.items()} for s in held.subscriptions],
        "suppression": [{k: _stamp(v) if k == "at" else v for k, v in s.items()} for s in held.suppression],
        "audit": [r.as_json() for r in held.audit],
        "retention": {"closed_case_months": settings.retention.closed_case_months,
                      "quarantine_days": settings.retention.quarantine_days,
                      "bounce_days": settings.retention.bounce_days,
                      "ended_subscription_days": settings.retention.ended_subscription_days},
    }
    return data, files


def _page(data: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(packaged_templates())),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("admin/export.html.j2").render(data=data)


def export(settings: Settings, address: str, out: Path, now: dt.datetime, actor: str) -> dict:
    """Write the export to `out` (a new folder, or a .zip file); record it in the audit trail.
    Files are readable by their owner only: they hold a person's data."""
    data, files = gather(settings, address, now, actor)
    files["data.json"] = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    files["index.html"] = _page(data).encode("utf-8")
    old = os.umask(0o077)
    try:
        if out.suffix.lower() == ".zip":
            partial = Path(tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=out.parent)[1])
            try:
                with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                    for name, content in sorted(files.items()):
                        archive.writestr(name, content)
                partial.replace(out)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        else:
            partial = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
            try:
                for name, content in files.items():
                    (partial / name).parent.mkdir(parents=True, exist_ok=True)
                    (partial / name).write_bytes(content)
                partial.rename(out)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    finally:
        os.umask(old)
    with db.atomic():
        db.audit.append("exported", actor, now, resident=address.strip().lower(),
                        summary=f"subject access export: {len(data['cases'])} case(s), {len(files)} file(s)")
    return data
