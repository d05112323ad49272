"""`gateway purge`, `gateway export`, `gateway erase` and `gateway audit`: a force's
data-protection duties and the trail that shows who did what."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path

import click

from gateway import config, db
from gateway.privacy import access, anchor, erasure, retention
from gateway.cli.base import EXIT_NOT_FOUND, _open_database, _settings, date_given, main
from gateway.clock import SystemClock

EXIT_BROKEN = 3   # `gateway audit verify`: the chain does not hold


def _by(command: str) -> str:
    return f"{getpass.getuser()} (gateway {command})"


def _resident(value: str) -> str:
    address = value.strip().lower()
    if not config.ADDRESS_RE.match(address):
        raise click.BadParameter(f"{value!r} is not an email address", param_hint="--resident")
    return address


@main.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.pass_context
def purge_command(ctx: click.Context, dry_run: bool) -> None:
    """Delete what [retention] no longer keeps (the daemon does this once a day)."""
    settings = _settings(ctx)
    _open_database(settings)
    r = settings.retention
    done = retention.purge(settings, SystemClock().now(), _by("purge"), dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb}:")
    click.echo(f"  {len(done.cases)} closed case(s) (closed over {r.closed_case_months} months ago), "
               f"with {done.case_messages} message(s) in and out" + (f": {', '.join(done.cases[:20])}"
                                                                    + (" ..." if len(done.cases) > 20 else "")
                                                                    if done.cases else ""))
    click.echo(f"  {done.set_aside} quarantined, parked or other message(s) on no case (over {r.quarantine_days} days old)")
    click.echo(f"  {done.bounces} bounce(s), auto-replies and bounce scores, and {done.deliveries} delivery row(s) "
               f"on no case (over {r.bounce_days} days old)")
    click.echo(f"  {done.subscriptions} ended subscription(s) (ended over {r.ended_subscription_days} days ago), "
               f"{done.subscribers} subscriber(s) left with none")
    if dry_run:
        click.echo("Nothing was deleted (--dry-run).")


@main.command("export")
@click.option("--resident", required=True, metavar="ADDRESS", help="The resident's email address.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="A new folder, or a file ending .zip, to write the export to.")
@click.pass_context
def export_command(ctx: click.Context, resident: str, out: Path) -> None:
    """Everything held about one resident, for a subject access request: index.html to read,
    data.json for a machine, and every message as it arrived (.eml) and as text."""
    address = _resident(resident)
    if out.exists():
        raise click.BadParameter(f"{out} exists; give a new folder or .zip file", param_hint="--out")
    if not out.parent.is_dir():
        raise click.BadParameter(f"folder {out.parent} does not exist", param_hint="--out")
    settings = _settings(ctx)
    _open_database(settings)
    held = db.privacy.held_about(address, access.sent_by(address))
    if not (held.cases or held.other_messages or held.other_mail or held.subscriber or held.suppression):
        click.echo(f"Nothing is held about {address}: no export written.", err=True)   # as erase says
        ctx.exit(EXIT_NOT_FOUND)
    data = access.export(settings, address, out, SystemClock().now(), _by("export"))
    messages = sum(len(c["messages_from_you"]) + len(c["mail_to_you"]) for c in data["cases"]) \
        + len(data["other_messages_from_you"]) + len(data["other_mail_to_you"])
    click.echo(f"Exported {address}: {len(data['cases'])} case(s), {messages} message(s), "
               f"{len(data['subscriptions'])} subscription(s), {len(data['audit'])} audit record(s) to {out}")
    click.echo("It holds personal data: send it to the resident securely, then delete it.")


@main.command("erase")
@click.option("--resident", required=True, metavar="ADDRESS", help="The resident's email address.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def erase_command(ctx: click.Context, resident: str, yes: bool) -> None:
    """Erase a resident's data: their cases and every message on them, whoever wrote it, their
    messages and the mail sent to them, their subscriptions, and the spool files naming them.
    A suppression stays as a hash only; the audit trail records that it was done, and by whom."""
    address = _resident(resident)
    settings = _settings(ctx)
    _open_database(settings)
    held = db.privacy.held_about(address, access.sent_by(address))
    owned = sum(1 for case, _, _ in held.cases if case.resident_address == address)
    messages = sum(len(m) + len(d) for _, m, d in held.cases) + len(held.other_messages) + len(held.other_mail)
    in_clear = [s for s in held.suppression if s["kept_as"] == "address"]
    if not (held.cases or held.other_messages or held.other_mail or held.subscriber or in_clear):
        click.echo(f"Nothing is held about {address}.")
        ctx.exit(EXIT_NOT_FOUND)
    click.echo(f"{address}: {owned} case(s) of theirs, {messages} message(s) from or to them, "
               f"{len(held.subscriptions)} subscription(s).")
    if not yes and not click.confirm("Erase all of it? This cannot be undone", default=False):
        click.echo("Nothing erased.")
        ctx.exit(EXIT_NOT_FOUND)
    # Looked at again, not reused: mail may have come from them while the question was asked.
    done = erasure.erase(settings, address, SystemClock().now(), _by("erase"))
    click.echo(f"Erased {address}: {done.cases} case(s) (with {done.others} message(s) others wrote on them or "
               f"about them: officers' answers, the teams' copies, held mail), {done.messages} message(s) from "
               f"them, {done.mail} message(s) to them, {done.subscriptions} subscription(s), and "
               f"{done.spool_files} file(s) from the spool {settings.spool} naming them or their cases. "
               "The audit trail records it.")
    click.echo("Not in the gateway's reach, and yours to see to: the relay's logs and queue, the team "
               "mailboxes, officers' own mail, and backups (README, \"Data protection\").")


@main.group("audit", invoke_without_command=True)
@click.option("--case", "case_ref", metavar="REF", help="Only this case's records.")
@click.option("--since", metavar="DATE", help="Only records on or after DATE (YYYY-MM-DD).")
@click.option("--resident", metavar="ADDRESS", help="Only the records about this resident.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@click.pass_context
def audit_group(ctx: click.Context, case_ref: str | None, since: str | None, resident: str | None,
                as_json: bool) -> None:
    """The audit trail: who did what to a case or a resident's data, and when.
    `gateway audit verify` checks that nothing in it was changed."""
    if ctx.invoked_subcommand is not None:
        return
    start = dt.datetime.combine(date_given(since, "--since"), dt.time(0)) if since else None
    address = _resident(resident) if resident else None
    settings = _settings(ctx)
    _open_database(settings)
    count = 0
    for record in db.audit.records(case_ref=case_ref, since=start, resident=address):
        count += 1
        if as_json:
            click.echo(json.dumps(record.as_json(), ensure_ascii=False))
        else:
            where = f" {record.case_ref}" if record.case_ref else ""
            click.echo(f"{record.at:%Y-%m-%d %H:%M:%S} {record.action:<16}{where} by {record.actor}"
                       + (f": {record.summary}" if record.summary else ""))
    if not count and not as_json:
        click.echo("No audit records" + (" match." if case_ref or since or resident else " yet."))


@audit_group.command("verify")
@click.option("--anchor", "anchor_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check against this copy of the anchors (default: [audit] anchor_file).")
@click.pass_context
def audit_verify(ctx: click.Context, anchor_file: Path | None) -> None:
    """Check the chain of hashes, that no id is missing, and that the trail reaches the
    anchors kept outside the database: exit 0 when it all holds, 3 when not."""
    settings = _settings(ctx)
    _open_database(settings)
    path = anchor_file or settings.anchor_file
    anchors, problems = anchor.read(path) if path.exists() else ([], [])
    verdict = db.audit.verify({a.id for a in anchors})
    problems = verdict.problems + anchor.check(anchors, verdict) + problems
    for problem in problems[:50]:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"The audit trail does NOT hold: {len(problems)} problem(s) in {verdict.records} "
                   "record(s).", err=True)
        ctx.exit(EXIT_BROKEN)
    click.echo(f"The audit trail holds: {verdict.records} record(s), each as written, in order, none missing. "
               f"Latest: record {verdict.last}, hash {verdict.head}")
    if anchors:
        newest = max(anchors, key=lambda a: a.id)
        click.echo(f"It reaches all {len(anchors)} anchor(s) in {path}, the newest record {newest.id} of {newest.at}.")
    else:
        click.echo(f"No anchors in {path}: records deleted from the end, or a chain recomputed whole, "
                   "cannot show. (The daemon writes one each hour; see [audit] anchor_file.)")
    if verdict.legacy:
        click.echo(f"{verdict.legacy} record(s) from before keyed hashes (migration 15) were checked with plain "
                   "SHA-256: anyone who could write the database could have rewritten those; the keyed records "
                   "after them vouch that they have not been since.")
