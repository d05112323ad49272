"""The systemd unit for an installation: `gateway systemd-unit` writes it from the config, and
contrib/surgery-gateway.service is the same text for the paths the README uses (a test keeps
the two alike). systemd's LoadCredential= fails the whole unit when its file is missing, so
each credential line comes with a SetCredential= of the same ID holding "absent", which
systemd takes instead of failing (systemd.exec(5)); the gateway counts that as no credential
(config.security.secret_file). The generated unit loads only the files the config names.
"""

from __future__ import annotations

import configparser
from pathlib import Path, PurePosixPath

from gateway.config import Settings
from gateway.config.security import ABSENT_CREDENTIAL

# The config keys that name a secret file, and the bare names the README gives them.
CREDENTIAL_KEYS = (("relay", "password_file"), ("dkim", "key_file"), ("smtp", "tls_key"), ("imap", "password_file"))
SHIPPED_CREDENTIALS = ("relay-password", "dkim.key", "smtp.key", "imap-password")
CREDENTIALS_FOLDER = "/etc/surgery-gateway/credentials"
STATE_FOLDER = "/var/lib/surgery-gateway"   # the README's, StateDirectory= below
README = "/opt/surgery-gateway/README.md"

HEAD = """\
# Surgery Gateway as a systemd service, as `gateway --config CONFIG systemd-unit` writes it
# ({where}). Install as /etc/systemd/system/surgery-gateway.service,
# run by a system user `gateway` (useradd --system --home-dir /var/lib/surgery-gateway gateway),
# with [gateway] database = sqlite:////var/lib/surgery-gateway/gateway.db and
# spool = /var/lib/surgery-gateway/outbox.
# Secrets are files root owns under {folder}/ (mode 0600); systemd
# hands them to the daemon alone (LoadCredential=), and the INI names them by their bare
# names (password_file = relay-password, key_file = dkim.key, tls_key = smtp.key). A file
# your site does not use may be left out: its SetCredential= stands in for it.
#
#   systemctl enable --now surgery-gateway
#   systemctl reload surgery-gateway      # re-read templates, teams, areas and limits (SIGHUP)
#   journalctl -u surgery-gateway         # the log (set [gateway] log_format = json for a shipper)
#   systemd-analyze security surgery-gateway
"""

BODY = """\
[Unit]
Description=Surgery Gateway (resident mail to neighbourhood policing teams)
Documentation=file://{docs}
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
# READY=1 once it takes mail, WATCHDOG=1 while its pipeline process and delivery workers go
# round, STOPPING=1 on the way down (gateway/runtime/systemd.py). A daemon whose loops are stuck for
# WatchdogSec is killed and restarted.
Type=notify
NotifyAccess=main
WatchdogSec=60
ExecStart={gateway} --config {config} run
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# A clean stop lets each worker finish the message in hand (the pipeline waits up to 60 s).
TimeoutStopSec=90
KillMode=mixed
# Open files: one per SMTP session, and [smtp] max_connections (500) + 256 in all. systemd's
# default soft limit is 1,024; the daemon raises its own soft limit up to this, and warns at
# start if it cannot hold max_connections.
LimitNOFILE=8192

User=gateway
Group=gateway
StateDirectory=surgery-gateway
StateDirectoryMode=0750
WorkingDirectory={workdir}
UMask=0027

{credentials}
# Hardening: the daemon writes only the folders its config names; it sees no home folders, no devices,
# no other users' /tmp, and cannot gain privileges.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={writable}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=
AmbientCapabilities=
# To listen on port 25 itself (instead of behind the force's MTA on 8025), keep:
#CapabilityBoundingSet=CAP_NET_BIND_SERVICE
#AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
"""


def credential_names(config: Path) -> list[str]:
    """The secret files the config names by a bare (relative) name, in CREDENTIAL_KEYS order:
    those systemd is to hand over. An absolute path is read where it is."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    parser.read(config, encoding="utf-8")
    names = []
    for section, key in CREDENTIAL_KEYS:
        value = parser.get(section, key, fallback="").strip()
        if value and not PurePosixPath(value).is_absolute() and value not in names:
            names.append(value)
    return names


def writable_folders(settings: Settings) -> list[str]:
    """The folders the daemon writes, from the config: the SQLite database's (its journal goes
    beside it), the spool, the audit anchor's, and the secret file's until it is made. Under
    ProtectSystem=strict it can write nothing else."""
    folders = []
    if settings.database.startswith("sqlite:///"):
        folders.append(Path(settings.database[len("sqlite:///"):]).parent)
    folders.append(settings.spool)
    secret = settings.keyring.file if settings.keyring else None
    if secret is not None and not secret.exists():   # the first `run` makes it; after, only commands write it
        folders.append(secret.parent)
    if settings.anchor_file is not None:
        folders.append(settings.anchor_file.parent)
    return list(dict.fromkeys(str(Path(folder).resolve()) for folder in folders))


def readme() -> str:
    """This installation's README (beside the package when installed from a checkout)."""
    here = Path(__file__).resolve().parents[2] / "README.md"
    return str(here) if here.is_file() else README


def unit_text(gateway: str, config: str, credentials: list[str] | tuple[str, ...],
              folder: str = CREDENTIALS_FOLDER, writable: list[str] | None = None, docs: str = README) -> str:
    """The unit: ExecStart runs `gateway` on `config`; one LoadCredential= (with its empty
    SetCredential= default) for each name in `credentials`, from `folder`; the daemon may
    write `writable` (default the README's state folder), the first is its working folder."""
    writable = writable or [STATE_FOLDER]
    # "-": a folder not made yet does not stop the unit (the daemon makes the spool itself)
    paths = " ".join(path if path == STATE_FOLDER else f"-{path}" for path in writable)
    lines = "".join(f"LoadCredential={name}:{folder}/{name}\nSetCredential={name}:{ABSENT_CREDENTIAL}\n"
                    for name in credentials)
    if not lines:
        lines = "# No LoadCredential=: the config names no secret file by a bare name.\n"
    where = ("this copy: for a gateway installed in /opt/surgery-gateway with its config in\n# "
             "/etc/surgery-gateway/gateway.ini" if config == "/etc/surgery-gateway/gateway.ini"
             else f"for {gateway} on\n# {config}")
    return HEAD.format(folder=folder, where=where) + "\n" + BODY.format(
        gateway=gateway, config=config, credentials=lines, docs=docs, writable=paths,
        workdir=writable[0] if writable[0] == STATE_FOLDER else f"-{writable[0]}")


def shipped() -> str:
    """contrib/surgery-gateway.service: every credential the README names, the README's paths."""
    return unit_text("/opt/surgery-gateway/.venv/bin/gateway", "/etc/surgery-gateway/gateway.ini", SHIPPED_CREDENTIALS)
