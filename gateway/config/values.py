"""Typed values from one INI section (Reader), and the checks several sections share. Every
problem is collected, naming its section and key, instead of stopping at the first."""

from __future__ import annotations

import configparser
import math
import re
from typing import Callable

ADDRESS_RE = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
TEAM_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
POSTCODE_PREFIX_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?(?: [0-9][A-Z]{0,2})?$")


class Reader:
    """Reads typed values from one section and collects problems instead of stopping."""

    def __init__(self, parser: configparser.ConfigParser, section: str, problems: list[str]):
        self.parser, self.section, self.problems = parser, section, problems

    def _raw(self, key: str, default: str) -> str:
        if self.parser.has_section(self.section):
            return self.parser.get(self.section, key, fallback=default).strip()
        return default

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"[{self.section}] {key}: {message}")

    def text(self, key: str, default: str = "", check: Callable[[str], str | None] | None = None) -> str:
        value = self._raw(key, default)
        message = check(value) if check else None
        if message:
            self.fail(key, message)
        return value

    def number(self, key: str, default: str, kind: type = int, minimum: float = 0,
               maximum: float | None = None) -> float:
        raw = self._raw(key, default)
        try:
            value = kind(raw)
        except ValueError:
            self.fail(key, f"{raw!r} is not a {'whole number' if kind is int else 'number'}")
            return kind(default)
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            span = f"from {_n(minimum)} to {_n(maximum)}" if maximum is not None else f"at least {_n(minimum)}"
            self.fail(key, f"must be {span}, not {raw}")
            return kind(default)
        return value

    def boolean(self, key: str, default: str) -> bool:
        raw = self._raw(key, default).lower()
        if raw in ("yes", "true", "on", "1"):
            return True
        if raw in ("no", "false", "off", "0", ""):
            return False
        self.fail(key, f"{raw!r} is not yes or no")
        return False

    def items(self, key: str, default: str = "") -> tuple[str, ...]:
        return tuple(p.strip() for p in self._raw(key, default).split(",") if p.strip())

    def postcodes(self, key: str = "postcodes") -> tuple[str, ...]:
        """UK postcode prefixes: an outward code (LL13) or a sector (LL13 7)."""
        prefixes = tuple(p.upper() for p in self.items(key))
        for prefix in prefixes:
            if not POSTCODE_PREFIX_RE.match(prefix):
                self.fail(key, f"{prefix!r} is not a UK postcode prefix (e.g. LL13 or LL13 7)")
        return prefixes


def _n(value: float) -> str:
    """A bound as people write it: 268435456, 0.01, 720."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def check_address(value: str) -> str | None:
    if not value:
        return "is required (an email address)"
    return None if ADDRESS_RE.match(value) else f"{value!r} is not an email address"


def check_required(value: str) -> str | None:
    return None if value else "is required"
