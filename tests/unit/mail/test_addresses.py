from gateway.mail.addresses import accepts, reply_address, verify_reply_address

SECRET, DOMAIN = "s3cret-s3cret-s3cret", "surgery.example.org"


def test_a_reply_address_verifies_to_its_case():
    address = reply_address("SRG-2026-0042", SECRET, DOMAIN)
    assert address.startswith("reply+srg-2026-0042-") and address.endswith("@surgery.example.org")
    assert verify_reply_address(address, SECRET, DOMAIN) == "SRG-2026-0042"
    assert verify_reply_address(address.upper().replace("SURGERY.EXAMPLE.ORG", DOMAIN), SECRET, DOMAIN) == "SRG-2026-0042"


def test_altered_or_forged_addresses_are_no_address():
    address = reply_address("SRG-2026-0042", SECRET, DOMAIN)
    other_case = address.replace("0042", "0043")
    assert verify_reply_address(other_case, SECRET, DOMAIN) is None
    assert verify_reply_address(reply_address("SRG-2026-0042", "other-secret", DOMAIN), SECRET, DOMAIN) is None
    assert verify_reply_address(address.replace(DOMAIN, "evil.example"), SECRET, DOMAIN) is None
    assert verify_reply_address("reply+srg-2026-0042@surgery.example.org", SECRET, DOMAIN) is None
    assert verify_reply_address("reply+@surgery.example.org", SECRET, DOMAIN) is None


def test_accepts_only_our_own_addresses():
    known = {"surgery", "hightown"}
    assert accepts("surgery@surgery.example.org", DOMAIN, known)
    assert accepts("Hightown+news@Surgery.Example.Org", DOMAIN, known)
    assert accepts("reply+anything@surgery.example.org", DOMAIN, known)
    assert accepts("postmaster@surgery.example.org", DOMAIN, known)
    assert not accepts("surgery@other.example", DOMAIN, known)
    assert not accepts("nobody@surgery.example.org", DOMAIN, known)
    assert not accepts("surgery@surgery.example.org.evil.example", DOMAIN, known)
