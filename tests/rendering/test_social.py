"""Social posts: fitted by each platform's rule, link intact, facets on the right bytes."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Template

from distributor.domain import Article, Image, PostRendition, RenderError
from distributor.rendering import measure, render_post
from distributor.rendering.jinja import text_environment
from distributor.rendering.social import (
    SOCIAL_PLATFORMS,
    PostSource,
    _keeps_lines,
    _PostTemplate,
    _tidy,
    bluesky_facets,
    hashtag,
    hashtags,
)
from distributor.rendering.text import ellipsize
from tests.rendering.conftest import SEED_LEAD, SEED_TITLE, SEED_URL, TEMPLATES, make_article

PLATFORMS = ("mastodon", "bluesky", "outbox")
FAMILY = "👨\u200d👩\u200d👧\u200d👦"


def post(article: Article, platform: str) -> PostRendition:
    result = render_post(article, platform, templates_dir=TEMPLATES)
    assert isinstance(result, PostRendition), result
    return result


def facet_slices(rendition: PostRendition) -> list[tuple[str, dict[str, str]]]:
    data = rendition.text.encode("utf-8")
    return [
        (data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"), f["features"][0])
        for f in rendition.facets
    ]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_seed_post_fits_its_platform_and_keeps_the_link(
    seed_article: Article, platform: str
) -> None:
    rendition = post(seed_article, platform)
    measured = measure(platform, rendition.text)
    assert measured.fits
    assert (rendition.length, rendition.limit) == (measured.length, measured.limit)
    assert rendition.text.startswith(SEED_TITLE)
    assert SEED_URL in rendition.text.split()
    assert rendition.link == SEED_URL


def test_the_seed_mastodon_post_has_the_whole_lead_and_camelcase_hashtags(
    seed_article: Article,
) -> None:
    rendition = post(seed_article, "mastodon")
    assert SEED_LEAD in rendition.text
    assert rendition.text.endswith("#HumanRightsDefenders #UNSecretaryGeneral")
    assert "#News" not in rendition.text
    assert rendition.facets == []


def test_the_outbox_post_reads_like_the_mastodon_post(seed_article: Article) -> None:
    assert post(seed_article, "outbox").text == post(seed_article, "mastodon").text


def test_the_seed_bluesky_post_drops_hashtags_then_shortens_the_lead(
    seed_article: Article,
) -> None:
    rendition = post(seed_article, "bluesky")
    lines = rendition.text.split("\n\n")
    assert lines[0] == SEED_TITLE
    short_lead = lines[1]
    assert short_lead.endswith("…")
    kept = short_lead.removesuffix("…")
    assert SEED_LEAD.startswith(kept)
    assert SEED_LEAD[len(kept)] in " ,;:"
    assert "#" not in rendition.text
    assert any("hashtags dropped" in w for w in rendition.warnings)
    assert rendition.length <= 300
    assert len(rendition.text.encode("utf-8")) <= 3000


def test_bluesky_link_facet_points_exactly_at_the_url_bytes(seed_article: Article) -> None:
    rendition = post(seed_article, "bluesky")
    assert facet_slices(rendition) == [
        (SEED_URL, {"$type": "app.bsky.richtext.facet#link", "uri": SEED_URL})
    ]


def test_bluesky_facets_use_byte_offsets_after_multibyte_text() -> None:
    article = make_article(
        title=f"Défenseurs {FAMILY} 日本語",
        lead="Ünïcödé lead",
        categories=("Droits humains",),
    )
    rendition = post(article, "bluesky")
    assert facet_slices(rendition) == [
        (SEED_URL, {"$type": "app.bsky.richtext.facet#link", "uri": SEED_URL}),
        ("#DroitsHumains", {"$type": "app.bsky.richtext.facet#tag", "tag": "DroitsHumains"}),
    ]
    ends = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in rendition.facets]
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(ends))


def test_bluesky_facets_cover_urls_in_the_text_but_not_their_trailing_punctuation() -> None:
    text = "See https://ishr.ch/a. And #Tag, #Other"
    assert [(s, f.get("uri", f.get("tag"))) for s, f in facet_slices_of(text)] == [
        ("https://ishr.ch/a", "https://ishr.ch/a"),
        ("#Other", "Other"),
    ]


def facet_slices_of(text: str) -> list[tuple[str, dict[str, str]]]:
    return facet_slices(PostRendition("bluesky", text, 0, 300, facets=bluesky_facets(text)))


def test_bluesky_gets_a_link_card_with_the_lead_and_the_image(seed_article: Article) -> None:
    card = post(seed_article, "bluesky").card
    assert card is not None
    assert card.uri == SEED_URL
    assert card.title == SEED_TITLE
    assert card.description == SEED_LEAD
    assert card.image_url == seed_article.image.url  # type: ignore[union-attr]


def test_a_long_lead_is_trimmed_for_the_card_description() -> None:
    lead = "word " * 200
    card = post(make_article(lead=lead), "bluesky").card
    assert card is not None
    assert card.description.endswith("…")
    assert len(card.description) <= 300


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Human rights defenders", "HumanRightsDefenders"),
        ("UN Secretary-General", "UNSecretaryGeneral"),
        ("Women’s rights", "WomensRights"),
        ("LGBTI+ rights", "LGBTIRights"),
        ("droits de l'homme", "DroitsDeLhomme"),
        ("2024", None),
        ("!!!", None),
        ("日本 人権", "日本人権"),
        ("x" * 65, None),
    ],
)
def test_a_category_becomes_a_camelcase_hashtag(category: str, expected: str | None) -> None:
    assert hashtag(category) == expected


def test_hashtags_skip_generic_categories_and_never_repeat() -> None:
    categories = (
        "News",
        "Human rights defenders",
        "human-rights Defenders",
        "Latest updates",
        "UN",
    )
    assert hashtags(categories) == ["HumanRightsDefenders", "UN"]


def test_hashtags_go_before_the_lead_is_shortened() -> None:
    lead = " ".join(["word"] * 70)  # 349 characters: fits with the title and link, not with tags
    categories = tuple(f"Category number {n}" for n in range(20))
    rendition = post(make_article(title="Title", lead=lead, categories=categories), "mastodon")
    assert lead in rendition.text
    assert "#CategoryNumber0" in rendition.text
    assert "#CategoryNumber19" not in rendition.text
    assert rendition.length <= 500


def test_emoji_sequences_are_never_split_when_the_lead_is_shortened() -> None:
    lead = " ".join([FAMILY + "🇨🇭"] * 200)
    rendition = post(make_article(lead=lead), "bluesky")
    short_lead = rendition.text.split("\n\n")[1].removesuffix("…")
    assert set(short_lead.split()) == {FAMILY + "🇨🇭"}
    assert rendition.length <= 300


def test_a_cjk_lead_without_spaces_is_shortened_between_characters() -> None:
    lead = "市民社会は国連事務総長との会合で人権擁護者の役割を強調した。" * 20
    rendition = post(make_article(lead=lead), "bluesky")
    short_lead = rendition.text.split("\n\n")[1]
    assert short_lead.endswith("…")
    assert lead.startswith(short_lead.removesuffix("…"))
    assert rendition.length <= 300


def test_a_title_too_long_for_bluesky_is_shortened_and_the_lead_left_out() -> None:
    title = "Long title word " * 40
    rendition = post(make_article(title=title), "bluesky")
    first, url = rendition.text.split("\n\n")
    assert first.endswith("…")
    assert url == SEED_URL
    assert rendition.length <= 300


def test_an_article_without_url_is_posted_without_link_and_with_a_warning() -> None:
    rendition = post(make_article(url=None), "bluesky")
    assert rendition.link is None
    assert rendition.card is None
    assert "no article URL: the post carries no link" in rendition.warnings
    assert any(w.startswith("no link card") for w in rendition.warnings)


def test_a_url_that_is_not_http_is_a_render_error() -> None:
    result = render_post(
        make_article(url="javascript:alert(1)"), "mastodon", templates_dir=TEMPLATES
    )
    assert isinstance(result, RenderError)


def test_a_link_longer_than_bluesky_allows_is_a_render_error_but_fine_on_mastodon() -> None:
    article = make_article(url="https://ishr.ch/" + "a" * 400)
    assert isinstance(render_post(article, "bluesky", templates_dir=TEMPLATES), RenderError)
    assert post(article, "mastodon").length <= 500


def test_missing_alt_text_gets_a_fallback_and_a_warning(seed_article: Article) -> None:
    rendition = post(seed_article, "mastodon")
    assert rendition.image is not None
    assert (
        rendition.image.alt
        == f"Image for the article: {SEED_TITLE} (photo: UN Photo / Manuel Elias)"
    )
    assert any(w.startswith("no alt text") for w in rendition.warnings)
    assert "no image credit" not in rendition.warnings


def test_given_alt_text_is_used_and_a_missing_credit_is_warned_about() -> None:
    image = Image(url="https://ishr.ch/a.jpg", alt="Delegates around a table")
    rendition = post(make_article(image=image), "mastodon")
    assert rendition.image == Image(url="https://ishr.ch/a.jpg", credit=None, alt=image.alt)
    assert rendition.warnings == ["no image credit"]


def test_article_content_is_data_not_template_source() -> None:
    rendition = post(make_article(title="{{ 7*7 }} {% if true %}x{% endif %}"), "mastodon")
    assert rendition.text.startswith("{{ 7*7 }} {% if true %}x{% endif %}")


def test_an_unknown_platform_is_a_render_error(seed_article: Article) -> None:
    result = render_post(seed_article, "myspace", templates_dir=TEMPLATES)
    assert isinstance(result, RenderError)
    assert "bluesky" in result.message


def test_a_missing_template_is_a_render_error(seed_article: Article, tmp_path: Path) -> None:
    assert isinstance(render_post(seed_article, "mastodon", templates_dir=tmp_path), RenderError)


def test_a_template_using_an_unknown_variable_is_a_render_error(
    seed_article: Article, tmp_path: Path
) -> None:
    (tmp_path / "social").mkdir()
    (tmp_path / "social" / "mastodon.txt.j2").write_text("{{ title }} {{ author }} {{ url }}")
    result = render_post(seed_article, "mastodon", templates_dir=tmp_path)
    assert isinstance(result, RenderError)
    assert "author" in result.message


def test_a_template_that_leaves_out_the_url_is_a_render_error(
    seed_article: Article, tmp_path: Path
) -> None:
    (tmp_path / "social").mkdir()
    (tmp_path / "social" / "mastodon.txt.j2").write_text("{{ title }}")
    assert isinstance(render_post(seed_article, "mastodon", templates_dir=tmp_path), RenderError)


hostile_text = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=12),
        st.sampled_from([FAMILY, "🇨🇭", "e\u0301", "日本", " ", "\n", "\u2028", "#", "@a@b.c"]),
        st.sampled_from(["https://ishr.ch/x", "http://a.b", " …", "\r\n", "word "]),
    ),
    max_size=150,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile_text,
    lead=hostile_text,
    categories=st.lists(hostile_text, max_size=6),
    platform=st.sampled_from(PLATFORMS),
)
def test_any_title_and_lead_fit_the_limit_and_keep_the_url_intact(
    title: str, lead: str, categories: list[str], platform: str
) -> None:
    article = make_article(title=title, lead=lead, categories=tuple(categories))
    rendition = post(article, platform)
    assert measure(platform, rendition.text).fits
    assert SEED_URL in rendition.text.split()
    if platform == "bluesky":
        links = [s for s, f in facet_slices(rendition) if f.get("uri") == SEED_URL]
        assert SEED_URL in links


# A custom template that filters, joins and leaves blank lines for tidying to remove.
_CUSTOM_TEMPLATES = Path(tempfile.mkdtemp(prefix="distributor-social-"))
(_CUSTOM_TEMPLATES / "social").mkdir()
(_CUSTOM_TEMPLATES / "social" / "custom.txt.j2").write_text(
    '{{ title | upper }}\n\n{{ lead }}\n{{ hashtags | join("\\n\\n\\n") }}\n{{ url }}\n'
    "{{ title | trim | lower }} {{ hashtags | join(' ') | title }}",
    encoding="utf-8",
)
POST_TEMPLATES = [
    *((TEMPLATES, f"social/{platform}.txt.j2") for platform in SOCIAL_PLATFORMS),
    (_CUSTOM_TEMPLATES, "social/custom.txt.j2"),
]

post_values = st.lists(
    st.sampled_from(
        ["word", "Ünï", " ", "  ", "\n", "\r\n", "\u2028", "\t", "…", "#", "日本", "e\u0301", "ß"]
    ),
    max_size=10,
).map("".join)


def _rendered_and_tidied(
    template: Template, title: str, lead: str, url: str, tags: Sequence[str]
) -> str:
    variables = {"title": title, "lead": lead, "url": url, "hashtags": [f"#{t}" for t in tags]}
    return _tidy(template.render(variables))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(POST_TEMPLATES),
    title=post_values,
    lead=post_values,
    categories=st.lists(post_values, max_size=4),
    url=st.sampled_from([SEED_URL, None]),
    data=st.data(),
)
def test_a_post_template_gives_what_the_template_renders_for_every_value_fitting_makes(
    where: tuple[Path, str],
    title: str,
    lead: str,
    categories: list[str],
    url: str | None,
    data: st.DataObject,
) -> None:
    template = text_environment(where[0]).template(where[1])
    source = PostSource.of(
        make_article(title=title, lead=lead, categories=tuple(categories), url=url)
    )
    render = _PostTemplate(template, url or "", source)
    # The whole lead, none, shortened at each cut point, or a numbered part of a thread.
    prefixes = [source.lead[:point] for point in source.lead_cuts()]
    leads = [source.lead, "", *map(ellipsize, prefixes)]
    leads += [f"{prefix.rstrip()} {n}/10" for n, prefix in enumerate(prefixes, start=1)]
    for title_given in (source.title, ""):
        for lead_given in leads:
            tags = source.tags[: data.draw(st.integers(0, len(source.tags)), label="tags kept")]
            assert render(title_given, lead_given, tags) == _rendered_and_tidied(
                template, title_given, lead_given, url or "", tags
            )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(POST_TEMPLATES),
    title=post_values,
    lead=post_values,
    tags=st.lists(post_values, max_size=3),
    url=st.sampled_from([SEED_URL, ""]),
)
def test_a_post_template_gives_what_the_template_renders_for_any_values_of_a_source(
    where: tuple[Path, str], title: str, lead: str, tags: list[str], url: str
) -> None:
    # A source holding exactly these values, telling honestly whether they keep lines.
    article = make_article(title=title, lead=lead, url=url or None)
    given_values = [title, lead, *(f"#{tag}" for tag in tags)]
    keeps_lines = all(map(_keeps_lines, filter(None, given_values)))
    source = PostSource(article, title, lead, tags, keeps_lines, url_is_http=bool(url))
    template = text_environment(where[0]).template(where[1])
    render = _PostTemplate(template, url, source)
    assert render(title, lead, tags) == _rendered_and_tidied(template, title, lead, url, tags)
    assert render(title, "", []) == _rendered_and_tidied(template, title, "", url, [])


def _every_post(article: Article | PostSource, *, thread: bool) -> list[object]:
    posts: list[object] = []
    for platform in SOCIAL_PLATFORMS:
        result = render_post(article, platform, templates_dir=TEMPLATES, thread=thread)
        posts.append(result.to_dict() if isinstance(result, PostRendition) else result)
    return posts


@pytest.mark.parametrize(
    "article",
    [
        make_article(),
        make_article(lead=" ".join(["A long lead, word after word."] * 40)),
        make_article(categories=()),
        make_article(lead=f"Read https://ishr.ch/report first. {SEED_LEAD}"),
        make_article(lead="", categories=("Human rights defenders",) * 3),
        make_article(title="日本語のタイトル", lead="市民社会は国連事務総長との会合で" * 30),
        make_article(
            title="Defenders at the UN",
            lead=" ".join(["Defenders speak."] * 13),  # X drops its hashtags one by one
            categories=("Human rights defenders", "UN Secretary-General", "Reprisals"),
        ),
    ],
    ids=["seed", "long lead", "no categories", "lead with a url", "no lead", "cjk", "tags popped"],
)
@pytest.mark.parametrize("thread", [False, True], ids=["single", "thread"])
def test_posts_rendered_from_one_shared_source_are_those_rendered_from_the_article(
    article: Article, thread: bool
) -> None:
    shared = PostSource.of(article)
    assert _every_post(shared, thread=thread) == _every_post(article, thread=thread)


def test_a_lead_longer_than_the_limit_drops_every_hashtag_and_is_shortened() -> None:
    lead = " ".join(["A lead that goes on, word after word."] * 20)
    categories = ("Human rights defenders", "UN Secretary-General", "Reprisals")
    rendition = post(make_article(lead=lead, categories=categories), "x")
    assert "hashtags dropped to fit: #HumanRightsDefenders #UNSecretaryGeneral" in (
        rendition.warnings
    )
    assert "lead shortened to fit" in rendition.warnings
    assert "#" not in rendition.text
    assert measure("x", rendition.text).fits
