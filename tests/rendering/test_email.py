"""The newsletter: everything of the seed article is in both parts, hostile content is inert,
and the per-recipient placeholders survive exactly once."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import nh3
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.config import Settings
from distributor.domain import (
    PLACEHOLDERS,
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    Article,
    EmailRendition,
    Image,
    RelatedArticle,
    RenderError,
)
from distributor.rendering import EmailContext, render_email
from distributor.rendering.email import (
    _email_allowlist,
    _settle_for_mjml,
    sanitise_body,
    strip_placeholders,
)
from distributor.rendering.text import graphemes
from tests.rendering.conftest import (
    SEED_IMAGE_URL,
    SEED_LEAD,
    SEED_PARAGRAPHS,
    SEED_PDF_URL,
    SEED_RELATED,
    SEED_TITLE,
    SEED_URL,
    TEMPLATES,
    make_article,
)


def email(article: Article, context: EmailContext) -> EmailRendition:
    result = render_email(article, context)
    assert isinstance(result, EmailRendition), result
    return result


def test_the_seed_paragraphs_mirror_the_fixture(seed_text: str) -> None:
    for paragraph in (SEED_TITLE, SEED_LEAD, *SEED_PARAGRAPHS):
        assert paragraph in " ".join(seed_text.split())


def test_the_seed_newsletter_html_has_every_part(
    seed_article: Article, email_context: EmailContext
) -> None:
    page = email(seed_article, email_context).html
    text = html.unescape(page)
    assert "Photo: UN Photo / Manuel Elias" in text
    assert f'src="{SEED_IMAGE_URL}"' in page
    assert ">News<" in page
    assert SEED_TITLE in text
    assert SEED_LEAD in text
    for paragraph in SEED_PARAGRAPHS:
        assert paragraph in text
    assert f'<a href="{SEED_URL}" target="_blank"' in page
    assert "Read on our website" in page
    assert f'href="{SEED_PDF_URL}"' in page
    for related in SEED_RELATED:
        assert related.title in text
        assert related.summary in text
        assert f'href="{related.url}"' in page
    assert "Rue de Varembé 1, 1202 Geneva, Switzerland" in text
    assert page.count(f'href="{UNSUBSCRIBE_PLACEHOLDER}"') == 1
    assert page.count(f'href="{PREFERENCES_PLACEHOLDER}"') == 1


def test_the_seed_newsletter_is_accessible(
    seed_article: Article, email_context: EmailContext
) -> None:
    page = email(seed_article, email_context).html
    assert '<html lang="en"' in page
    assert f"<title>{SEED_TITLE}</title>" in page
    alts = regex.findall(r'<img alt="([^"]*)"', page)
    assert alts == ["Photo: UN Photo / Manuel Elias"]
    assert 'role="presentation"' in page
    assert "<h1" in page
    sizes = {int(size) for size in regex.findall(r"font-size:(\d+)px", page)}
    assert min(sizes - {0, 1, 13}) >= 14  # 0/1 px are MJML's layout and preheader tricks


def test_the_seed_text_part_has_every_part(
    seed_article: Article, email_context: EmailContext
) -> None:
    text = email(seed_article, email_context).text
    assert "Photo: UN Photo / Manuel Elias" in text
    assert SEED_TITLE in text
    assert SEED_LEAD in text
    for paragraph in SEED_PARAGRAPHS:
        assert f"\n\n{paragraph}\n\n" in text
    assert f"Read on our website: {SEED_URL}" in text
    assert f"Download as PDF: {SEED_PDF_URL}" in text
    for related in SEED_RELATED:
        assert f"{related.title}\n{related.summary}\n{related.url}" in text
    assert "Rue de Varembé 1, 1202 Geneva, Switzerland" in text
    assert f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}" in text
    assert f"Manage your preferences: {PREFERENCES_PLACEHOLDER}" in text
    assert "<" not in text


def test_the_subject_is_the_title_and_the_preheader_comes_from_the_lead(
    seed_article: Article, email_context: EmailContext
) -> None:
    rendition = email(seed_article, email_context)
    assert rendition.subject == SEED_TITLE
    assert rendition.preheader.endswith("…")
    assert SEED_LEAD.startswith(rendition.preheader.removesuffix("…"))
    assert graphemes(rendition.preheader) <= 140
    assert rendition.preheader in rendition.html


@pytest.mark.parametrize(
    "title",
    [
        "Civil society\r\nmeets the UN",
        "Civil society\rmeets the UN",
        "Civil society\nmeets the UN",
        "Civil society\u2028meets the UN",
        "Civil society\x85meets the UN",
        "Civil\x00 society\x1b \t meets\x7f the UN\r\n",
    ],
)
def test_a_title_with_line_breaks_becomes_a_one_line_subject(
    title: str, email_context: EmailContext
) -> None:
    assert email(make_article(title=title), email_context).subject == "Civil society meets the UN"


def test_a_very_long_title_is_capped_at_a_word(email_context: EmailContext) -> None:
    subject = email(make_article(title="Defenders " * 50), email_context).subject
    assert graphemes(subject) <= 200
    assert subject.endswith("Defenders…")


def test_template_syntax_in_content_shows_literally(email_context: EmailContext) -> None:
    article = make_article(
        title="{{ 7*7 }} title", body_html="<p>Body {{ 7*7 }} and {% raw %}</p>", lead="{{ lead }}"
    )
    rendition = email(article, email_context)
    for part in (rendition.html, rendition.text):
        assert "Body {{ 7*7 }} and {% raw %}" in part
        assert "{{ 7*7 }} title" in part
        assert "{{ lead }}" in part
        assert "49" not in part


def test_script_event_handlers_and_javascript_links_never_reach_the_html(
    email_context: EmailContext,
) -> None:
    body = (
        "<p>Hello<script>alert(1)</script></p>"
        '<img src="https://x.example/a.png" onerror="alert(2)">'
        '<p><a href="javascript:alert(3)" onclick="alert(4)">click</a></p>'
        '<p><a href="JaVaScRiPt:alert(5)">again</a><svg onload="alert(6)"></svg></p>'
        "<style>body{display:none}</style><iframe src='https://evil.example'></iframe>"
        '<mj-raw><script>alert(7)</script></mj-raw></mj-text><mj-text css-class="x">'
    )
    page = email(make_article(body_html=body), email_context).html.lower()
    assert "<script" not in page
    assert "alert(" not in page
    assert "javascript:" not in page
    assert "<iframe" not in page
    assert "display:none}" not in page
    assert not regex.search(r"<[^>]*\son[a-z]+\s*=", page)


def test_relative_links_in_the_body_point_at_the_article_site(email_context: EmailContext) -> None:
    page = email(make_article(body_html='<p><a href="/a/b">x</a></p>'), email_context).html
    assert 'href="https://ishr.ch/a/b"' in page


def test_relative_links_are_dropped_when_the_article_url_cannot_be_a_base(
    email_context: EmailContext,
) -> None:
    article = make_article(url="https://[::1/a", body_html='<p><a href="/a/b">x</a></p>')
    page = email(article, email_context).html
    assert "/a/b" not in page
    assert ">x</a>" in page


def test_content_cannot_plant_the_per_recipient_placeholders(email_context: EmailContext) -> None:
    nested = "%%UNSUB%%UNSUBSCRIBE_URL%%SCRIBE_URL%%"
    spliced = "%%UNSUBSCRIBE_URL\x00%% %%PREFERENCES\x1b_URL%%"
    article = make_article(
        title=f"Title {UNSUBSCRIBE_PLACEHOLDER} {spliced}",
        lead=f"Lead {PREFERENCES_PLACEHOLDER} {spliced}",
        body_html=(
            f'<p><a href="{UNSUBSCRIBE_PLACEHOLDER}">a</a> {nested} %%UNSUB<b></b>SCRIBE_URL%%'
            " &#37;&#37;PREFERENCES_URL&#37;&#37;</p>"
        ),
        categories=(PREFERENCES_PLACEHOLDER + "News",),
        image=Image(
            url=SEED_IMAGE_URL, credit=UNSUBSCRIBE_PLACEHOLDER, alt=PREFERENCES_PLACEHOLDER
        ),
        related=(RelatedArticle(title=UNSUBSCRIBE_PLACEHOLDER + "R", summary=nested),),
    )
    rendition = email(article, email_context)
    for part in (rendition.html, rendition.text):
        assert part.count(UNSUBSCRIBE_PLACEHOLDER) == 1
        assert part.count(PREFERENCES_PLACEHOLDER) == 1
    assert UNSUBSCRIBE_PLACEHOLDER not in rendition.subject
    assert PREFERENCES_PLACEHOLDER not in rendition.preheader


def test_an_article_with_only_a_title_and_a_body_renders(email_context: EmailContext) -> None:
    article = Article(title="Only a title", lead="", body_html="<p>Only a body</p>")
    rendition = email(article, email_context)
    assert "Only a body" in rendition.html
    assert "Read on our website" not in rendition.html
    assert "Download as PDF" not in rendition.text
    assert "<img" not in rendition.html


def test_unsafe_links_in_article_fields_are_left_out(email_context: EmailContext) -> None:
    article = make_article(
        pdf_url="javascript:alert(1)",
        image=Image(url="data:image/png;base64,AAAA", credit="x"),
        related=(RelatedArticle(title="Rel", url="javascript:alert(2)"),),
    )
    page = email(article, email_context).html
    assert "javascript:" not in page
    assert "data:image" not in page
    assert ">Rel<" in page


def test_an_article_without_title_is_a_render_error(email_context: EmailContext) -> None:
    assert isinstance(render_email(make_article(title=" \r\n "), email_context), RenderError)


def copy_templates(tmp_path: Path) -> Path:
    shutil.copytree(TEMPLATES / "email", tmp_path / "email")
    return tmp_path


def test_an_mjml_error_is_a_render_error(seed_article: Article, tmp_path: Path) -> None:
    templates = copy_templates(tmp_path)
    (templates / "email" / "newsletter.mjml.j2").write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>{{ unsubscribe_url }}"
    )
    result = render_email(seed_article, EmailContext("Org", "Address", templates))
    assert isinstance(result, RenderError)
    assert "MJML" in result.message


def test_a_template_without_the_unsubscribe_link_is_a_render_error(
    seed_article: Article, tmp_path: Path
) -> None:
    templates = copy_templates(tmp_path)
    template = templates / "email" / "newsletter.mjml.j2"
    template.write_text(template.read_text().replace("{{ unsubscribe_url }}", "#"))
    result = render_email(seed_article, EmailContext("Org", "Address", templates))
    assert isinstance(result, RenderError)
    assert UNSUBSCRIBE_PLACEHOLDER in result.message


def test_a_missing_template_is_a_render_error(seed_article: Article, tmp_path: Path) -> None:
    assert isinstance(
        render_email(seed_article, EmailContext("Org", "Addr", tmp_path)), RenderError
    )


def test_an_undefined_template_variable_is_a_render_error(
    seed_article: Article, tmp_path: Path
) -> None:
    templates = copy_templates(tmp_path)
    (templates / "email" / "newsletter.txt.j2").write_text("{{ article.author }}")
    result = render_email(seed_article, EmailContext("Org", "Address", templates))
    assert isinstance(result, RenderError)
    assert "author" in result.message


def test_a_bad_language_tag_is_a_render_error(seed_article: Article) -> None:
    context = EmailContext("Org", "Address", TEMPLATES, language='en" onload="x')
    assert isinstance(render_email(seed_article, context), RenderError)


def test_the_context_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, org_name="ISHR", org_postal_address="Geneva")
    context = EmailContext.from_settings(settings, language="fr")
    assert context == EmailContext("ISHR", "Geneva", settings.templates_dir, language="fr")


BASE = "https://ishr.ch/news/a/"


def _cleaned_with_links_resolved(body: str, base: str) -> str:
    """sanitise_body as it was: one nh3 pass that resolves every relative link."""
    cleaned = nh3.clean(body, url_relative=("rewrite_with_base", base), **_email_allowlist())
    return _settle_for_mjml(strip_placeholders(cleaned))


@pytest.mark.parametrize(
    "body",
    [
        '<p>See <a href="https://ishr.ch/report">the report</a>.</p>',
        '<p><a href="http://example.org/a?b=1&amp;c=2">query</a></p>',
        '<p><a href="/latest-updates/x">relative</a> and <a href="other">sibling</a></p>',
        '<p><a href="../up">up</a> <a href="?page=2">query only</a> <a href="#top">top</a></p>',
        '<p><a href="//x.org/a">protocol-relative</a></p>',
        '<p><a href="HTTPS://ISHR.CH/A">upper case</a> <a href="Http://x.org">mixed</a></p>',
        '<p><a href="mailto:info@ishr.ch">write</a> <a href="MAILTO:a@b.org">WRITE</a></p>',
        '<p><a href="javascript:alert(1)">script</a> <a href=" https://x.org">space</a></p>',
        '<p><img src="/images/a.jpg" alt="relative"> <img src="https://x.org/b.png"></p>',
        '<p>The attribute href="/x" and src="y" as text, <a href="https://x.org">a link</a></p>',
        "<p>text only</p>\n<p>%%UNSUBSCRIBE_URL%% and\x0b more</p>",
        '<p><a title="href=&quot;/x&quot;" href="https://x.org">title</a></p>',
        "<p><a href='https://x.org/single'>single quotes</a> <a href=unquoted>bare</a></p>",
    ],
)
def test_sanitise_body_gives_what_resolving_every_link_gives(body: str) -> None:
    assert sanitise_body(body, BASE) == _cleaned_with_links_resolved(body, BASE)


def test_every_placeholder_starts_with_the_marker_strip_placeholders_looks_for() -> None:
    assert all(placeholder.startswith("%%") for placeholder in PLACEHOLDERS)


_link_targets = st.lists(
    st.sampled_from(
        ["https:", "HTTP:", "mailto:", "javascript:", "data:", "//", "/", "x.org", "a", "..", "?",
         "#", " ", "\t", "&amp;", "%%", "UNSUBSCRIBE_URL", "é", '"', "'"]
    ),
    max_size=8,
).map("".join)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    href=_link_targets,
    src=_link_targets,
    text=st.sampled_from(["", 'href="/x"', "src=y", "%%PREFERENCES_URL%%"]),
)
def test_sanitise_body_gives_what_resolving_every_link_gives_for_any_link(
    href: str, src: str, text: str
) -> None:
    body = f"<p><a href='{href}'>link</a> {text} <img src='{src}' alt=''></p>"
    assert sanitise_body(body, BASE) == _cleaned_with_links_resolved(body, BASE)
