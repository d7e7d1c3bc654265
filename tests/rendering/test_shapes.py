"""A template rendered once per shape gives exactly what rendering it for each article gives:
the newsletter's cached MJML layout byte for byte, and any text template, whatever it does
with the values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mjml
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Template
from markupsafe import Markup, escape

from distributor.domain import Image, RelatedArticle
from distributor.rendering.email import _article_view, compile_mjml
from distributor.rendering.jinja import html_environment, text_environment
from distributor.rendering.shapes import _html, render
from tests.rendering.conftest import TEMPLATES, make_article

_text = st.lists(
    st.sampled_from(
        [*"ab Z09<>&\"'=;#%é—😀\u00a0\t\r\n\x0b\x0c\x1f", "&amp;", "]]>", "%%", "<b>", "</b>"]
    ),
    max_size=12,
).map("".join)
_urls = st.sampled_from(['https://ishr.ch/a?x=1&y="2"', "https://ishr.ch/b", None])


def _variables(**article: Any) -> dict[str, Any]:
    return {
        "lang": "en",
        "subject": "Subject & <more>",
        "preheader": "Preheader",
        "org_name": "ISHR",
        "postal_address": "Geneva",
        "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
        "preferences_url": "%%PREFERENCES_URL%%",
        "article": _article_view(make_article(**article)),
    }


def _newsletter() -> Template:
    return html_environment(TEMPLATES).get_template("email/newsletter.mjml.j2")


@settings(max_examples=150, deadline=None)
@given(
    title=_text.filter(str.strip),
    lead=_text,
    credit=_text,
    url=_urls,
    related=st.lists(st.tuples(_text, _text, _urls), max_size=3),
    body=_text,
)
def test_the_cached_layout_renders_byte_for_byte_what_mjml_renders_for_the_article(
    title: str,
    lead: str,
    credit: str,
    url: str | None,
    related: list[tuple[str, str, str | None]],
    body: str,
) -> None:
    variables = _variables(
        title=title,
        lead=lead,
        url=url,
        image=Image(url="https://ishr.ch/i.jpg", credit=credit) if credit.strip() else None,
        related=tuple(RelatedArticle(title=t, summary=s, url=u) for t, s, u in related),
        body_html=f"<p>{body}</p>",
    )
    template = _newsletter()
    assert render(template, variables, compile_mjml) == compile_mjml(template.render(variables))


def test_two_articles_of_the_same_shape_share_one_mjml_compilation() -> None:
    compiled: list[str] = []

    def counting_compile(source: str) -> str:
        compiled.append(source)
        return compile_mjml(source)

    template = _newsletter()
    first = render(template, _variables(title="First title"), counting_compile)
    second = render(template, _variables(title="Second title"), counting_compile)
    assert len(compiled) == 1
    assert "First title" in first and "Second title" in second
    assert "Second title" not in first


def test_a_template_that_looks_at_a_value_is_compiled_for_each_article(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "inspecting.mjml.j2").write_text(
        "<mjml><mj-body><mj-section><mj-column>"
        "<mj-text>{{ article.title | upper }} ({{ article.title | length }})</mj-text>"
        "{% if article.category == 'News' %}<mj-text>news!</mj-text>{% endif %}"
        "</mj-column></mj-section></mj-body></mjml>",
        encoding="utf-8",
    )
    template = html_environment(tmp_path).get_template("email/inspecting.mjml.j2")
    for title, category in (("short", "News"), ("a longer title", "Other")):
        variables = {"article": {"title": title, "category": category}}
        html = render(template, variables, compile_mjml)
        assert html == mjml.mjml2html(template.render(variables), disable_comments=True)
        assert f"{title.upper()} ({len(title)})" in html
        assert ("news!" in html) is (category == "News")


def _text_template(tmp_path: Path, source: str) -> Template:
    (tmp_path / "social").mkdir(exist_ok=True)
    (tmp_path / "social" / "post.txt.j2").write_text(source, encoding="utf-8")
    return text_environment(tmp_path).get_template("social/post.txt.j2")


@pytest.mark.parametrize(
    "source",
    [
        "{{ title | upper }}\n\n{{ lead }}\n{{ url }}\n{{ hashtags | join(' ') }}",
        "{{ title | trim | title }} {{ hashtags | join(', ') }}{% if lead %}:{{ lead }}{% endif %}",
        "{{ title | length }} {{ title | e }} {{ title ~ lead }} {{ title | replace('a', 'b') }}",
        "{% if title == 'Exact' %}same{% endif %}{{ hashtags | join(' ') | upper }}",
        "{{ hashtags | first if hashtags else '' }} {{ hashtags | map('lower') | join(' ') }}",
    ],
)
def test_a_text_template_renders_what_jinja_renders_whatever_it_does_with_the_values(
    tmp_path: Path, source: str
) -> None:
    template = _text_template(tmp_path, source)
    for variables in (
        {
            "title": "Exact",
            "lead": "a <lead> & more",
            "url": "https://x.org/?a=1&b",
            "hashtags": ["#A", "#Bc"],
        },
        {"title": "  other title ", "lead": "", "url": "", "hashtags": []},
        {"title": "Exact", "lead": "x", "url": "https://x.org", "hashtags": ["#One"]},
    ):
        assert render(template, variables) == template.render(variables)


def test_an_edited_template_is_used_once_the_loader_rechecks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributor.rendering import jinja

    monkeypatch.setattr(jinja._RecheckingLoader, "RECHECK_SECONDS", 0.0)
    template = _text_template(tmp_path, "before: {{ title }}")
    assert render(template, {"title": "T"}) == "before: T"
    (tmp_path / "social" / "post.txt.j2").write_text("after: {{ title }}", encoding="utf-8")
    os.utime(tmp_path / "social" / "post.txt.j2", (1, 10**10))  # a newer mtime, whatever the clock
    edited = text_environment(tmp_path).get_template("social/post.txt.j2")
    assert render(edited, {"title": "T"}) == "after: T"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_escaping_a_value_gives_what_markupsafe_gives(value: str) -> None:
    assert _html(value) == str(escape(value))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["&", "<", ">", "'", '"', "&amp;", "a", "é", "😀"])).map("".join))
def test_html_escaping_markup_characters_gives_what_markupsafe_gives(value: str) -> None:
    assert _html(value) == str(escape(value))


def test_html_escaping_leaves_markup_as_it_is() -> None:
    assert _html(Markup("<b>x</b>")) == "<b>x</b>"
