"""The settings: the INI file read and checked (reading, values, sections), the frozen
sections it becomes (settings), the security sections and checks (security), [oauth2] and
the relays (oauth2) and the secret file (keyring). Imports only the kernel (errors) and the working-day calendar (promise.calendar); every other package
imports it. `load(path)` and the section classes below are its interface."""

from gateway.config.reading import KNOWN_KEYS, from_parser, load, read_parser
from gateway.config.settings import RELOADABLE, Area, Imap, Retention, Settings, Team, apply_reload, reload_changes
from gateway.config.values import ADDRESS_RE

__all__ = ["ADDRESS_RE", "Area", "Imap", "KNOWN_KEYS", "RELOADABLE", "Retention", "Settings", "Team", "apply_reload",
           "from_parser", "load", "read_parser", "reload_changes"]
