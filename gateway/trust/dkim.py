"""DKIM: verifying the signatures on a message, and signing our own (dkimpy)."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from dataclasses import dataclass, field

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from gateway.trust.dns import DnsTemporary, Resolver

# What our signature covers: everything a resident's provider shows or acts on.
SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"In-Reply-To",
                  b"References", b"MIME-Version", b"Content-Type", b"Content-Transfer-Encoding",
                  b"Auto-Submitted", b"Precedence", b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post")
MAX_SIGNATURES = 5   # a message with more is not worth more lookups
_quiet = logging.getLogger("gateway.trust.dkimpy")
_quiet.setLevel(logging.CRITICAL)   # dkimpy logs every failed check as an error; we report them ourselves


@dataclass(frozen=True)
class Signature:
    domain: str        # d=
    result: str        # pass | fail | temperror | permerror
    # For a signature that verified: the header instances it covered, exactly as dkimpy
    # hashed them ((lower-case name, canonicalised value), bottom-most instance of each h=
    # name first); a fingerprint of the signature itself (the same for every re-encoding of
    # its b= value, see _stamp); and whether the body goes on past its l= length.
    covered: tuple[tuple[str, str], ...] = ()
    stamp: str = ""
    past_length: bool = False
    names: tuple[str, ...] = ()   # its h= list, lower case: a name there and absent was signed as absent

    def values(self, name: str) -> list[str]:
        """The values of the covered instances of header `name` (lower case)."""
        return [value for covered, value in self.covered if covered == name]


def verify(raw: bytes, resolver: Resolver) -> list[Signature]:
    """Every DKIM signature on the message (up to MAX_SIGNATURES), each checked."""
    try:
        checker = dkimpy.DKIM(raw, logger=_quiet, minkey=1024, timeout=resolver.timeout)
    except Exception:   # headers dkimpy cannot even split: no signature to speak of
        return []
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    return [_one(checker, index, resolver) for index in range(min(count, MAX_SIGNATURES))]


def _one(checker: dkimpy.DKIM, index: int, resolver: Resolver) -> Signature:
    temporary = []

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            records = resolver.txt(name.decode("ascii", "replace"))
        except DnsTemporary as exc:
            temporary.append(str(exc))
            raise dkimpy.DnsTimeoutError(str(exc)) from exc
        return records[0].encode() if records else None

    try:
        ok = checker.verify(idx=index, dnsfunc=lookup)
    except dkimpy.DKIMException:
        ok = None
    except Exception:   # a malformed signature must not stop the message
        ok = None
    domain = (checker.domain or b"").decode("ascii", "replace").lower().rstrip(".")
    if temporary:
        return Signature(domain, "temperror")
    if ok:
        names = tuple(dict.fromkeys(n.decode("ascii", "replace").strip().lower() for n in checker.include_headers))
        return Signature(domain, "pass", _covered(checker), _stamp(checker), _past_length(checker), names)
    return Signature(domain, "permerror" if ok is None else "fail")


def _covered(checker: dkimpy.DKIM) -> tuple[tuple[str, str], ...]:
    """What the signature just verified covered: dkimpy's own record of the header instances
    it hashed (the bottom-most instance of each h= name, as RFC 6376 says), so that a header
    added above a signed one, or a name written "To :" that relaxed canonicalisation reads as
    "to", is judged exactly as the signature was. dkimpy adds one extra From to what it hashes
    (to catch a second From); that entry is dropped when it was not in h=."""
    wanted = list(checker.include_headers)
    covered = []
    for name, value in checker.signed_headers[:len(wanted)]:
        text = value.decode("utf-8", "replace").replace("\r\n", "").replace("\n", "").strip()
        covered.append((name.decode("ascii", "replace").strip().lower(), text))
    return tuple(covered)


def _stamp(checker: dkimpy.DKIM) -> str:
    """A fingerprint of the signature value: SHA-256 of the RSA signature as a number modulo
    the key's modulus. dkimpy decodes b= leniently (characters outside base64 are skipped)
    and checks neither its length nor that it is below the modulus, so "s", "s + n" and "s"
    with a stray "." all verify; hashing the b= text would let each count as a new one."""
    raw = base64.b64decode(re.sub(rb"\s+", b"", checker.signature_fields[b"b"]))
    modulus = checker.pk.get("modulus") if isinstance(checker.pk, dict) else None
    if modulus:
        number = int.from_bytes(raw, "big") % modulus
        raw = number.to_bytes((modulus.bit_length() + 7) // 8, "big")
    return hashlib.sha256(raw).hexdigest()


def _past_length(checker: dkimpy.DKIM) -> bool:
    """Whether the body goes on past what an l= signature covered (anyone could have
    written what follows)."""
    fields = checker.signature_fields
    if b"l" not in fields:
        return False
    canon = dkimpy.CanonicalizationPolicy.from_c_value(fields.get(b"c", b"simple/simple"))
    return len(canon.canonicalize_body(checker.body)) > int(fields[b"l"])


class _OpenSslDKIM(dkimpy.DKIM):
    """dkimpy's signer, with the one RSA operation done by OpenSSL (the cryptography
    package) instead of dkimpy's pure-Python arithmetic: 6 ms a signature became about
    1 ms, which matters for a 200,000-copy bulletin. Canonicalisation, header selection and
    folding are dkimpy's own, unchanged."""

    openssl_key = None

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):
        header_value = dkimpy.fold(b"; ".join(b"=".join(x) for x in fields), namelen=len(header_name),
                                   linesep=b"\r\n")
        header_value = dkimpy.RE_BTAG.sub(b"\\1", header_value)
        hashed = dkimpy.HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkimpy.hash_headers(hashed, canon_policy, headers, include_headers,
                                                  (header_name, b" " + header_value), dict(fields))
        signature = self.openssl_key.sign(hashed.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        index = [i for i, field in enumerate(fields) if field[0] == b"b"][0]
        fields[index] = (b"b", base64.b64encode(signature))
        return dkimpy.fold(b"; ".join(b"=".join(x) for x in fields) + self.linesep, namelen=len(header_name),
                           linesep=self.linesep)


@dataclass(frozen=True)
class Signer:
    """Signs outgoing mail as [dkim] domain with [dkim] selector (rsa-sha256)."""

    domain: str
    selector: str
    private_key: bytes = field(repr=False)

    @functools.cached_property
    def _key(self):
        return serialization.load_pem_private_key(self.private_key, password=None)

    def sign(self, raw: bytes) -> bytes:
        """The message with a DKIM-Signature header on top (relaxed/relaxed, rsa-sha256)."""
        present = {line.split(b":", 1)[0].strip().lower()
                   for line in raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n") if b":" in line}
        headers = [h for h in SIGNED_HEADERS if h.lower() in present]
        signer = _OpenSslDKIM(raw, logger=_quiet, signature_algorithm=b"rsa-sha256")
        signer.openssl_key = self._key
        header = signer.sign(self.selector.encode(), self.domain.encode(), self.private_key,
                             canonicalize=(b"relaxed", b"relaxed"), include_headers=headers)
        return header + raw


@functools.lru_cache(maxsize=4)
def signer_for(domain: str, selector: str, private_key: bytes) -> Signer:
    """One Signer per key in a process (its parsed key is reused)."""
    return Signer(domain, selector, private_key)


def sign_if_configured(settings, raw: bytes) -> bytes:
    """`raw` signed when [dkim] is set and it is not signed yet; else as it is."""
    dkim = settings.dkim
    if dkim is None or raw.startswith(b"DKIM-Signature:"):
        return raw
    return signer_for(dkim.domain, dkim.selector, dkim.private_key).sign(raw)


def new_key(bits: int = 2048) -> tuple[bytes, str]:
    """(private key PEM, the public key's base64 for the DNS record)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def dns_record(selector: str, domain: str, public_b64: str) -> str:
    """The TXT record to publish, as a zone-file line."""
    chunks = " ".join(f'"{public_b64[i:i + 200]}"' for i in range(0, len(public_b64), 200))
    return f'{selector}._domainkey.{domain}. IN TXT ( "v=DKIM1; k=rsa; p=" {chunks} )'
