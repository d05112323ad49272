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


def test_every_signed_thing_verifies_under_any_secret_still_in_its_grace_and_no_other():
    from gateway.mail.addresses import (signed_message_id, token, token_address, verify_message_id, verify_token,
                                        verify_token_address)

    old, new, gone = "old-" + SECRET * 2, "new-" + SECRET * 2, "gone-" + SECRET * 2
    verifying = (new, old)   # Settings.secrets after a rotation
    assert verify_reply_address(reply_address("SRG-2026-0042", old, DOMAIN), verifying, DOMAIN) == "SRG-2026-0042"
    assert verify_reply_address(reply_address("SRG-2026-0042", gone, DOMAIN), verifying, DOMAIN) is None
    for purpose in ("confirm", "unsubscribe", "publish", "bounces"):
        assert verify_token_address(token_address(purpose, 7, old, DOMAIN), purpose, verifying, DOMAIN) == "7"
        assert verify_token_address(token_address(purpose, 7, gone, DOMAIN), purpose, verifying, DOMAIN) is None
    assert verify_token(token("unsubscribe", 7, old), "unsubscribe", verifying) == "7"
    assert verify_message_id(signed_message_id(old, DOMAIN), verifying, DOMAIN)
    assert not verify_message_id(signed_message_id(gone, DOMAIN), verifying, DOMAIN)
