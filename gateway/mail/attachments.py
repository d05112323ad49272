"""Attachments a team may safely receive, and the ones held back. Pure.

Executable and script files are held back whether their name says so or their content
does (a Windows or Linux program, a script with #!, an Office file with macros, a zip that
carries any of these), as are attachments over the count and size limits. The team sees
their names and why; the original message stays in the store, byte for byte.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

DANGEROUS_EXTENSIONS = {
    "exe", "com", "scr", "pif", "bat", "cmd", "msi", "msp", "dll", "cpl", "jar", "js", "jse", "vbs", "vbe",
    "wsf", "wsh", "ps1", "psm1", "hta", "lnk", "reg", "inf", "scf", "gadget", "application", "appx", "msix",
    "sh", "py", "pl", "iso", "img", "vhd", "vhdx", "chm", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm",
    "potm", "ppam", "ppsm", "sldm", "one",
}
ZIP_MEMBER_LIMIT = 500


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes
    held: str | None = None     # why it is held back, or None when it may be forwarded

    @property
    def size(self) -> int:
        return len(self.data)


def judge(attachments: list[Attachment], max_count: int, max_bytes: int) -> list[Attachment]:
    """Mark what must be held back, in place; return the list."""
    total = 0
    allowed = 0
    for attachment in attachments:
        attachment.held = dangerous(attachment.name, attachment.data)
        if attachment.held:
            continue
        if allowed >= max_count:
            attachment.held = f"more than {max_count} attachments"
        elif total + attachment.size > max_bytes:
            attachment.held = f"attachments over {max_bytes // (1024 * 1024)} MB in all"
        else:
            allowed += 1
            total += attachment.size
    return attachments


def dangerous(name: str, data: bytes) -> str | None:
    """Why a file could run code on a police computer, or None."""
    extension = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if extension in DANGEROUS_EXTENSIONS:
        return f"a .{extension} file can run code"
    head = data[:8]
    if head.startswith(b"MZ"):
        return "a Windows program (by its content)"
    if head.startswith(b"\x7fELF"):
        return "a Linux program (by its content)"
    if head.startswith(b"#!"):
        return "a script (by its content)"
    if head.startswith(b"\xd0\xcf\x11\xe0") and (b"_VBA_PROJECT" in data or b"V\x00B\x00A\x00" in data):
        return "an Office file with macros (by its content)"
    if head.startswith(b"PK"):
        return _inside_zip(data)
    return None


def _inside_zip(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for count, member in enumerate(archive.namelist()):
                if count > ZIP_MEMBER_LIMIT:
                    return "an archive too large to check"
                lowered = member.lower()
                if lowered.endswith("vbaproject.bin"):
                    return "an Office file with macros (by its content)"
                if "." in lowered and lowered.rsplit(".", 1)[-1] in DANGEROUS_EXTENSIONS:
                    return f"an archive holding {member.rsplit('/', 1)[-1]}"
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, RuntimeError):
        return None
    return None
