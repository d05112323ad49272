"""The `gateway` command: thin click commands over the layers below; it may import any of
them, the runtime included, and only gateway.__main__ imports it.

base.py holds the command group and what every command shares; each other module adds its
commands to it, and is imported here (never by base.py), so there is no import circle."""

from gateway.cli import alerts, cases, connections, core, database, keys, privacy, queue, reports, trust, urgent  # noqa: F401  (each registers its commands)
from gateway.cli import onboard  # noqa: F401
from gateway.cli.base import main

__all__ = ["alerts", "cases", "connections", "core", "database", "keys", "main", "onboard", "privacy", "queue", "reports",
           "trust", "urgent"]
