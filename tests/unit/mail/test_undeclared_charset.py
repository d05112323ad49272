"""Text that names no charset (swaks, scripts, some old clients send 8-bit UTF-8 without one) is
read as UTF-8 first: Welsh letters arrive as written, not as replacement characters."""

from gateway.mail.parse import parse


def test_eight_bit_utf8_without_a_charset_keeps_its_welsh_letters():
    raw = ("From: Ann <ann@example.net>\r\nTo: surgery@example.org\r\nSubject: Cwyn\r\n"
           "Message-ID: <c1@example.net>\r\n\r\nMae o wedi mynd rŵan, dim ôl ohono, dîm byd.\r\n").encode()
    assert "rŵan, dim ôl ohono, dîm byd." in parse(raw).text


def test_declared_us_ascii_with_8_bit_latin1_bytes_is_read_as_windows_1252():
    raw = (b"From: ann@example.net\r\nTo: surgery@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\ncaf\xe9 on the corner\r\n")
    assert "caf\u00e9 on the corner" in parse(raw).text


def test_a_declared_charset_is_still_honoured():
    raw = (b"From: ann@example.net\r\nTo: surgery@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nna\xefve\r\n")
    assert "na\u00efve" in parse(raw).text
