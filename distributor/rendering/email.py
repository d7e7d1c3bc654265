"""The newsletter for one article: subject, preheader, HTML (Jinja2 → MJML → HTML) and text.

Rendered once per article. The per-recipient unsubscribe and preferences URLs stay as the
literal placeholders from ``domain.PLACEHOLDERS``, which the mailer substitutes per
recipient; article content is scrubbed of those strings so it cannot plant a link where
the mailer would put a recipient's own.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mjml
import nh3
import regex
from jinja2 import TemplateError
from markupsafe import Markup

from distributor.domain import (
    PLACEHOLDERS,
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    Article,
    EmailRendition,
    RenderError,
    strip_placeholders,
)
from distributor.rendering import shapes
from distributor.rendering.jinja import html_environment, text_environment
from distributor.rendering.text import html_to_text, is_http_url, single_line, truncate

if TYPE_CHECKING:
    from distributor.config import Settings

SUBJECT_GRAPHEMES = 200
PREHEADER_GRAPHEMES = 140
LINK_STYLE = "color:#0b5394;text-decoration:underline;"

# What an article body may keep in an email: text structure, links and images, no styling
# of its own (the template styles it) and nothing active.
EMAIL_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "figcaption", "figure",
        "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "q", "s", "small",
        "strong", "sub", "sup", "u", "ul",
    }
)  # fmt: skip
EMAIL_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "width", "height"},
}
EMAIL_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LANGUAGE_TAG = regex.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class EmailContext:
    """What the newsletter needs besides the article: who sends it and where the templates are."""

    org_name: str
    postal_address: str
    templates_dir: Path
    language: str = "en"
    template: str = "newsletter"

    @classmethod
    def from_settings(cls, settings: Settings, *, language: str = "en") -> EmailContext:
        return cls(
            org_name=settings.org_name,
            postal_address=settings.org_postal_address,
            templates_dir=settings.templates_dir,
            language=language,
        )


def _email_allowlist() -> dict[str, Any]:
    return {
        "tags": set(EMAIL_TAGS),
        "attributes": {tag: set(names) for tag, names in EMAIL_ATTRIBUTES.items()},
        "clean_content_tags": {"script", "style"},
        "url_schemes": set(EMAIL_URL_SCHEMES),
        "set_tag_attribute_values": {
            "a": {"style": LINK_STYLE},
            "img": {"style": "max-width:100%;height:auto;"},
            # The head's p margins are a <style> block some clients drop; say it inline too.
            "p": {"style": "margin:0 0 16px 0;"},
        },
    }


# Built once: nh3 spends more time taking in an allowlist than cleaning an article with it.
# It leaves relative links as they are; a body that has any is cleaned again below.
_ABSOLUTE_LINKS_CLEANER = nh3.Cleaner(url_relative="pass_through", **_email_allowlist())
_KEPT_SCHEMES = tuple(f"{scheme}:" for scheme in EMAIL_URL_SCHEMES)


def _has_relative_link(cleaned: str) -> bool:
    """Whether a link attribute (as nh3 writes them: lower-case, double-quoted) holds
    anything but an absolute URL of a scheme the allowlist keeps. Text that merely looks
    like such an attribute only costs the slower path."""
    for attribute in ('href="', 'src="'):
        start = cleaned.find(attribute)
        while start != -1:
            start += len(attribute)
            if not cleaned[start : start + 8].lower().startswith(_KEPT_SCHEMES):
                return True
            start = cleaned.find(attribute, start)
    return False


def sanitise_body(body_html: str, base_url: str | None) -> str:
    """nh3 again, with the email allowlist: the body was sanitised at ingest, but a renderer
    that trusts its input is one bug away from mailing a script to every subscriber."""
    cleaned = _ABSOLUTE_LINKS_CLEANER.clean(body_html)
    if _has_relative_link(cleaned):
        cleaned = _with_relative_links_resolved(body_html, base_url)
    return _settle_for_mjml(strip_placeholders(cleaned))


def _with_relative_links_resolved(body_html: str, base_url: str | None) -> str:
    # Relative links mean nothing in a mailbox: resolve them against the article, or drop
    # them when its URL is not one nh3 can parse.
    if base_url:
        with contextlib.suppress(ValueError):  # a base nh3 cannot parse: relative links go
            return nh3.clean(
                body_html, url_relative=("rewrite_with_base", base_url), **_email_allowlist()
            )
    return nh3.clean(body_html, url_relative="deny", **_email_allowlist())


# mjml-python fails on some C0 controls and silently drops whitespace-only text that begins
# with a line break, gluing the words around it ("<b>a</b>\n<i>b</i>" shows "ab").
_MJML_UNSAFE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


def _settle_for_mjml(body: str) -> str:
    """The body as MJML passes it through unchanged: no controls MJML rejects, and a single
    space where only whitespace with a line break separates two tags."""
    if body.isprintable():  # neither a control nor a line break: a quicker test than either
        return body.strip()
    body = _MJML_UNSAFE_CONTROLS.sub("", body)
    return _LINE_BREAK_BETWEEN_TAGS.sub("> <", body).strip()


def compile_mjml(source: str) -> str:
    # Comments in the output are only bytes in every subscriber's mailbox.
    return mjml.mjml2html(source, disable_comments=True)


def subject_line(title: str) -> str:
    """One line, no control characters, at most ~200 graphemes cut at a word."""
    return truncate(_line(title), SUBJECT_GRAPHEMES)


def preheader(lead: str) -> str:
    return truncate(_line(lead), PREHEADER_GRAPHEMES)


def _line(text: str | None) -> str:
    # Flatten first: dropping a control character could otherwise splice a placeholder.
    return strip_placeholders(single_line(text or ""))


def _url(value: str | None) -> str | None:
    return value if is_http_url(value) and strip_placeholders(value or "") == value else None


def _article_view(article: Article) -> dict[str, Any]:
    """The article as template variables: plain text everywhere, links only if http(s)."""
    url = _url(article.url)
    body = sanitise_body(article.body_html, url)
    image: dict[str, str | None] | None = None
    if article.image and _url(article.image.url):
        credit = _line(article.image.credit) or None
        alt = _line(article.image.alt)
        if not alt:
            alt = f"Photo: {credit}" if credit else "Photo illustrating the article"
        image = {"url": article.image.url, "alt": alt, "credit": credit}
    category = next((_line(c) for c in article.categories if _line(c)), "")
    return {
        "title": _line(article.title),
        "lead": _line(article.lead),
        "category": category,
        "image": image,
        # A credit without a picture URL (the plain-text form) is still shown: it is owed.
        "image_credit": (_line(article.image.credit) if article.image else "") or None,
        # Safe only because it is nh3 output with the email allowlist, produced just above.
        "body": Markup(body),
        "body_text": strip_placeholders(html_to_text(body)),
        "url": url,
        "pdf_url": _url(article.pdf_url),
        "related": [
            {
                "title": _line(r.title),
                "summary": _line(r.summary),
                "url": _url(r.url),
            }
            for r in article.related
            if _line(r.title)
        ],
    }


def render_email(article: Article, context: EmailContext) -> EmailRendition | RenderError:
    """The newsletter for ``article``, or a RenderError for the preview."""
    subject = subject_line(article.title)
    if not subject:
        return RenderError("the article has no title to use as subject", where="email")
    if not _LANGUAGE_TAG.fullmatch(context.language):
        return RenderError(f"{context.language!r} is not a language tag", where="email")
    summary = preheader(article.lead)
    variables = shapes.Variables(
        {
            "lang": context.language,
            "subject": subject,
            "preheader": summary,
            "org_name": context.org_name,
            "postal_address": _line(context.postal_address),
            "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
            "preferences_url": PREFERENCES_PLACEHOLDER,
            "article": _article_view(article),
        }
    )
    name = context.template
    try:
        template = html_environment(context.templates_dir).template(f"email/{name}.mjml.j2")
        text = shapes.render(
            text_environment(context.templates_dir).template(f"email/{name}.txt.j2"),
            variables,
        )
    except TemplateError as error:
        return RenderError(f"template error: {error}", where=f"email/{name}")
    try:
        html = shapes.render(template, variables, compile_mjml)
    except TemplateError as error:
        return RenderError(f"template error: {error}", where=f"email/{name}")
    except Exception as error:  # the Rust engine reports every MJML problem as some exception
        return RenderError(f"MJML error: {error}", where=f"email/{name}.mjml.j2")
    for placeholder in PLACEHOLDERS:
        if placeholder not in html or placeholder not in text:
            return RenderError(
                f"the template must contain {placeholder} in both HTML and text "
                "(unsubscribe and preferences links)",
                where=f"email/{name}",
            )
    return EmailRendition(subject=subject, preheader=summary, html=html, text=text.strip() + "\n")
