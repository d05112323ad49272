"""README.md's two commands: the run command works on the example config; CI runs the test command."""

from __future__ import annotations

import re
import smtplib
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port, resident_mail, wait_for

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)


def test_readme_opens_with_the_run_command_then_the_test_command():
    run_command, test_command = readme_commands()[:2]
    assert "pip install ." in run_command and "gateway --config gateway.ini.example run" in run_command
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines(), ".ci/run must run README.md's test command verbatim"


def test_the_test_command_never_touches_the_run_commands_virtual_environment():
    """Run in order, the second command must not reinstall the package under the daemon the
    first one started (issue 25: the daemon then failed with TemplateNotFound)."""
    run_command, test_command = readme_commands()[:2]
    run_venv = re.match(r"python3 -m venv (\S+) ", run_command).group(1)
    test_venv = re.match(r"python3 -m venv (\S+) ", test_command).group(1)
    assert test_venv != run_venv and f" {run_venv}/" not in test_command
    assert f"{test_venv}/" in (ROOT / ".gitignore").read_text().split()
    # Developers' tools (pytest, lint-imports, the benchmarks) live in the tests' environment.
    for path in [ROOT / "README.md", ROOT / "bench" / "run_all", *sorted((ROOT / "bench").glob("*.py")),
                 ROOT / "bench" / "README.md"]:
        for tool in ("python", "pip install -e", "lint-imports", "pytest"):
            assert f"{run_venv}/bin/{tool}" not in path.read_text(), f"{path.name} runs {tool} from {run_venv}"


def test_the_example_config_runs_and_writes_readable_mail_to_the_spool(tmp_path, gateway_process):
    port = free_port()
    example = (ROOT / "gateway.ini.example").read_text()
    assert "listen = 127.0.0.1:8025" in example
    config = tmp_path / "gateway.ini"
    config.write_text(example.replace("listen = 127.0.0.1:8025", f"listen = 127.0.0.1:{port}"))
    gateway_process(config, port)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(resident_mail())
    spool = tmp_path / "var" / "outbox"
    files = wait_for(lambda: sorted(spool.glob("*.eml")) if len(list(spool.glob("*.eml"))) == 2 else None,
                     what="two .eml files in the spool")
    team, resident = sorted(files, key=lambda f: "resident_ack" in f.name)
    assert "Subject: [SRG-2026-0001] Bikes on the pavement" in team.read_text()
    ack = resident.read_text()
    assert "Delivered-To: ann@example.net" in ack and "Your case reference is SRG-2026-0001." in ack


def test_an_installed_copy_finds_its_templates_and_migrations(tmp_path):
    """`pip install .` (not editable) must carry templates/ and migrations inside the package."""
    target, source = tmp_path / "site", tmp_path / "source"
    source.mkdir()
    # From a clean copy of what git would check out: building in the repository leaves a build/
    # folder whose stale files (a module since moved) would be installed too, and hide a slip.
    for name in ("pyproject.toml", "README.md", "gateway", "templates"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(source)], capture_output=True, text=True, timeout=180)
    assert built.returncode == 0, built.stderr
    probe = ("import gateway.render as r, gateway.db.migrations as m, gateway.cli; "
             "print(r.packaged_templates()); print(len(m.MIGRATIONS), 'migrations'); "
             "print(r.Renderer().render('resident/acknowledgement', reference='SRG-2026-0001', "
             "team_name='T', resident_name='Ann', due_date='Friday 4 December 2026'))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(target / "gateway" / "templates"))
    assert "Your case reference is SRG-2026-0001." in result.stdout
    from gateway.db.migrations import MIGRATIONS

    assert f"{len(MIGRATIONS)} migrations" in result.stdout   # every one of the source tree's is installed


def _reply_as_pc_jones(port: int, forward_file: Path) -> None:
    import email
    from email import policy
    from email.message import EmailMessage

    forward = email.message_from_bytes(forward_file.read_bytes(), policy=policy.default)
    reply = EmailMessage()
    reply["From"], reply["To"] = "PC Jones <pc.jones@police.example>", forward["Reply-To"]
    reply["Subject"], reply["In-Reply-To"] = "RE: " + forward["Subject"], forward["Message-ID"]
    reply.set_content("We will patrol on Friday.\n\nPC Jones")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(reply)


def test_the_example_trusts_nobody_and_the_trial_config_lets_a_newcomer_play_the_officer(tmp_path, gateway_process):
    from gateway import config as gateway_config

    shipped = gateway_config.load(ROOT / "gateway.ini.example").trust
    assert shipped.trusted_networks == () and shipped.authserv_id == ""   # safe to copy to service
    for name, answered in (("gateway.ini.example", False), ("contrib/gateway.trial.ini", True)):
        folder = tmp_path / name.replace("/", "_")
        folder.mkdir()
        port = free_port()
        text = (ROOT / name).read_text().replace("listen = 127.0.0.1:8025", f"listen = 127.0.0.1:{port}")
        (folder / "gateway.ini").write_text(text)
        gateway_process(folder / "gateway.ini", port)
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(resident_mail())
        spool = folder / "var" / ("trial-outbox" if answered else "outbox")
        forward = wait_for(lambda: sorted(spool.glob("*team_new_case.eml")), what="the team's copy")[0]
        _reply_as_pc_jones(port, forward)
        outcome = "resident_answer" if answered else "team_held"
        found = wait_for(lambda: sorted(spool.glob(f"*{outcome}.eml")), what=f"the {outcome} from {name}")[0]
        text = found.read_text()
        assert "We will patrol on Friday." in text
        if answered:
            assert "From: Hightown Neighbourhood Policing Team <surgery@surgery.example.org>" in text
            assert "pc.jones" not in text
        else:
            assert "not authenticated: no DKIM signature from police.example" in text
            assert not list(spool.glob("*resident_answer.eml"))
