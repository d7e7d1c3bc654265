"""Newsletter messages: what a standards-following parser reads back out of the bytes."""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from distributor.domain import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, EmailRendition
from distributor.mail import InvalidRecipient, InvalidTemplate, MessageTemplate

SENDER = "ISHR News <news@ishr.example>"
WHEN = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
UNSUB = "https://news.ishr.example/u/tok-ALICE?list=news&x=1"
PREFS = "https://news.ishr.example/p/tok-ALICE"

TEXT = (
    "Civil society meets the Secretary-General\n"
    ".\n"
    ".a line that starts with a dot\n"
    "From the field: défenseurs des droits humains, 人权, ✊🏽\n"
    + "a very long line "
    * 40
    + "\ntrailing space   \n"
    f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n"
    f"Preferences: {PREFERENCES_PLACEHOLDER}\n"
)
HTML = (
    "<!doctype html><html><body>"
    "<p>Civil society meets the Secretary-General — <b>défenseurs</b> 人权</p>\n"
    ".\nFrom here on\n" + "<span>long</span>" * 100 + "\n"
    f'<a href="{UNSUBSCRIBE_PLACEHOLDER}">Unsubscribe</a> '
    f'<a href="{PREFERENCES_PLACEHOLDER}">Preferences</a>'
    "</body></html>"
)
RENDITION = EmailRendition(
    subject="Société civile: the Secretary-General meets defenders",
    preheader="What was said",
    html=HTML,
    text=TEXT,
)


def _template(rendition: EmailRendition = RENDITION, **overrides: str) -> MessageTemplate:
    options = {
        "sender": SENDER,
        "list_id": "news.ishr.example",
        "message_id_domain": "ishr.example",
        "unsubscribe_mailto": "unsubscribe@ishr.example",
        **overrides,
    }
    return MessageTemplate.build(rendition, **options)


def _personalise(
    template: MessageTemplate,
    *,
    to_email: str = "alice@example.org",
    to_name: str = "Alice Example",
    message_id: str = "delivery-101",
    unsubscribe_url: str = UNSUB,
    preferences_url: str = PREFS,
) -> bytes:
    return template.personalise(
        to_email=to_email,
        to_name=to_name,
        message_id=message_id,
        unsubscribe_url=unsubscribe_url,
        preferences_url=preferences_url,
        date=WHEN,
    )


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=email.policy.default).parsebytes(raw)


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain, page = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert page.get_content_type() == "text/html"
    return _lf(plain.get_content()), _lf(page.get_content())


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _display_name(raw: bytes) -> str:
    """The To display name, decoded by the RFC 2047 decoder that joins adjacent encoded words
    (the newer header parser puts a space between some of them, a CPython bug)."""
    to = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)["To"]
    phrase = str(to).removesuffix("<alice@example.org>").removesuffix("alice@example.org")
    phrase = phrase.strip()
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return str(make_header(decode_header(phrase)))


def _expected_parts(
    rendition: EmailRendition, unsubscribe: str, preferences: str
) -> tuple[str, str]:
    plain = rendition.text.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe)
    page = rendition.html.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe.replace("&", "&amp;"))
    return (
        plain.replace(PREFERENCES_PLACEHOLDER, preferences),
        page.replace(PREFERENCES_PLACEHOLDER, preferences.replace("&", "&amp;")),
    )


def test_a_message_has_exactly_the_expected_headers() -> None:
    message = _parse(_personalise(_template()))

    assert [(name, str(value)) for name, value in message.items()] == [
        ("From", SENDER),
        ("Subject", RENDITION.subject),
        ("To", "Alice Example <alice@example.org>"),
        ("Date", "Sat, 28 Nov 2026 10:00:00 +0000"),
        ("Message-ID", "<delivery-101@ishr.example>"),
        (
            "List-Unsubscribe",
            f"<{UNSUB}>, <mailto:unsubscribe@ishr.example?subject=unsubscribe>",
        ),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("MIME-Version", "1.0"),
        ("List-Id", "<news.ishr.example>"),
        ("Precedence", "bulk"),
        ("Content-Type", message["Content-Type"]),
    ]
    assert message.get_content_type() == "multipart/alternative"
    assert message.defects == []


def test_both_parts_decode_to_the_rendition_with_the_recipients_urls() -> None:
    message = _parse(_personalise(_template()))

    assert _parts(message) == _expected_parts(RENDITION, UNSUB, PREFS)


def test_every_line_ends_in_crlf_and_fits_the_smtp_limit() -> None:
    raw = _personalise(_template())

    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.endswith(b"\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    # Quoted-printable keeps body lines within 76 characters, whatever the rendition's lines.
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert raw.isascii()


def test_two_recipients_differ_only_in_their_own_headers_and_urls() -> None:
    template = _template()
    bob_unsub, bob_prefs = "https://news.ishr.example/u/tok-BOB", "https://news.ishr.example/p/BOB"
    alice = _parse(_personalise(template))
    bob = _parse(
        _personalise(
            template,
            to_email="bob@example.net",
            to_name="Bob",
            message_id="delivery-102",
            unsubscribe_url=bob_unsub,
            preferences_url=bob_prefs,
        )
    )

    personal = {"To", "Message-ID", "List-Unsubscribe"}
    assert alice.keys() == bob.keys()
    for name in alice:
        if name not in personal:
            assert str(alice[name]) == str(bob[name]), name
        else:
            assert str(alice[name]) != str(bob[name]), name
    alice_text, alice_html = _parts(alice)
    bob_text, bob_html = _parts(bob)
    assert alice_text.replace(UNSUB, bob_unsub).replace(PREFS, bob_prefs) == bob_text
    escaped = UNSUB.replace("&", "&amp;")
    assert alice_html.replace(escaped, bob_unsub).replace(PREFS, bob_prefs) == bob_html


def test_non_ascii_subjects_and_names_are_encoded_and_read_back() -> None:
    rendition = EmailRendition(
        subject="Défenseurs des droits humains — 人权捍卫者 ✊🏽",
        preheader="",
        html="<p>x</p>",
        text="x",
    )
    raw = _personalise(_template(rendition), to_name="Zoë Åsa Müller-Lüdenscheidt")

    message = _parse(raw)
    assert raw.isascii()
    assert message["Subject"] == rendition.subject
    assert message["To"].addresses[0].display_name == "Zoë Åsa Müller-Lüdenscheidt"
    assert message["To"].addresses[0].addr_spec == "alice@example.org"


@pytest.mark.parametrize("name", ['O"Brien, Pat', "Dr. Who", "back\\slash", "", "  spaced   out  "])
def test_names_with_specials_are_quoted_so_they_stay_one_address(name: str) -> None:
    message = _parse(_personalise(_template(), to_name=name))

    [address] = message["To"].addresses
    assert address.display_name == " ".join(name.split())
    assert address.addr_spec == "alice@example.org"


@pytest.mark.parametrize(
    "field",
    [
        {"to_name": "Alice\r\nBcc: victim@example.com"},
        {"to_name": "Alice\nBcc: victim@example.com"},
        {"to_email": "alice@example.org\r\nBcc: victim@example.com"},
        {"to_email": "Alice <alice@example.org>"},
        {"to_email": "alice@example.org, victim@example.com"},
        {"to_email": "not-an-address"},
        {"message_id": "x>\r\nBcc: victim@example.com"},
        {"message_id": "x@elsewhere.example"},
        {"unsubscribe_url": "https://e.example/u>\r\nBcc: victim@example.com"},
        {"unsubscribe_url": "https://e.example/u>, <https://evil.example/"},
        {"preferences_url": "javascript:alert(1)"},
        {"preferences_url": 'https://e.example/p" onclick="alert(1)'},
    ],
)
def test_a_recipient_value_that_could_add_a_header_is_refused(field: dict[str, str]) -> None:
    with pytest.raises(InvalidRecipient):
        _personalise(_template(), **field)


@pytest.mark.parametrize(
    "override",
    [
        {"sender": "ISHR <news@ishr.example>\r\nBcc: victim@example.com"},
        {"sender": "no address here"},
        {"list_id": "news ishr"},
        {"message_id_domain": "ishr.example>"},
        {"unsubscribe_mailto": "unsubscribe@ishr.example?x=1"},
    ],
)
def test_a_template_setting_that_is_not_a_header_is_refused(override: dict[str, str]) -> None:
    with pytest.raises(InvalidTemplate):
        _template(RENDITION, **override)


def test_a_subject_with_a_line_break_is_refused() -> None:
    rendition = EmailRendition(
        subject="One\r\nBcc: victim@example.com", preheader="", html="", text=""
    )

    with pytest.raises(InvalidTemplate):
        _template(rendition)


def test_an_http_unsubscribe_url_gets_no_one_click_header() -> None:
    message = _parse(_personalise(_template(), unsubscribe_url="http://127.0.0.1:8000/u/tok"))

    assert message["List-Unsubscribe-Post"] is None
    assert str(message["List-Unsubscribe"]).startswith("<http://127.0.0.1:8000/u/tok>")


def test_without_a_mailto_the_unsubscribe_header_has_only_the_url() -> None:
    template = MessageTemplate.build(
        RENDITION, sender=SENDER, list_id="news.ishr.example", message_id_domain="ishr.example"
    )

    assert str(_parse(_personalise(template))["List-Unsubscribe"]) == f"<{UNSUB}>"


def test_the_envelope_sender_is_the_senders_address() -> None:
    assert _template().envelope_sender == "news@ishr.example"


# Anything a renderer might produce, minus CR (line ends are normalised to CRLF, checked
# below) and surrogates (not encodable as UTF-8).
_body = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=400)
_lines = st.lists(
    st.one_of(_body, st.sampled_from([".", "..", ".x", "From me", " ", "=", "=_", "a" * 300])),
    max_size=8,
).map("\n".join)
_name = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=60)
_subject = st.text(
    st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1, max_size=150
)
_url = st.from_regex(r"https://[a-z]{1,20}\.example/[A-Za-z0-9._~&=?%/-]{0,120}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@example(  # the fixed text's last encoded line is full (76) just before a placeholder
    text="",
    html_text="00000\x1f\x1f\x80\x80\x80\U00010000\U00010000\U00010000",
    name="",
    subject="0",
    unsubscribe="https://a.example/",
    preferences="https://a.example/",
)
@given(
    text=_lines,
    html_text=_lines,
    name=_name,
    subject=_subject.filter(lambda s: s.strip()),
    unsubscribe=_url,
    preferences=_url,
)
def test_any_rendition_survives_the_round_trip(
    text: str, html_text: str, name: str, subject: str, unsubscribe: str, preferences: str
) -> None:
    rendition = EmailRendition(
        subject=subject,
        preheader="",
        html=f"{html_text}<a href='{UNSUBSCRIBE_PLACEHOLDER}'>u</a>{PREFERENCES_PLACEHOLDER}",
        text=f"{text}\n{UNSUBSCRIBE_PLACEHOLDER}\n{PREFERENCES_PLACEHOLDER}{text}",
    )
    raw = _personalise(
        _template(rendition),
        to_name=name,
        unsubscribe_url=unsubscribe,
        preferences_url=preferences,
    )

    message = _parse(raw)
    assert raw.count(b"\n") == raw.count(b"\r\n")
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert message.defects == []
    assert message["Subject"] == " ".join(subject.split())
    [address] = message["To"].addresses
    assert address.addr_spec == "alice@example.org"
    assert _display_name(raw) == " ".join(name.split())
    assert message["Message-ID"] == "<delivery-101@ishr.example>"
    assert _parts(message) == _expected_parts(rendition, unsubscribe, preferences)


def test_a_bare_cr_in_the_rendition_becomes_a_line_break() -> None:
    rendition = EmailRendition(subject="s", preheader="", html="a\rb", text="c\r\nd\re")

    plain, page = _parts(_parse(_personalise(_template(rendition))))

    assert (plain, page) == ("c\nd\ne", "a\nb")
