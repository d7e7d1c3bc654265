"""Posts for X, LinkedIn, Facebook, Threads and Telegram: fitted by each network's own rule,
hashtags capped and never repeating the text, LinkedIn's card, threads, UTM links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distributor.articles import render_for_channel
from distributor.domain import Article, Image, LinkCard, PostRendition, RenderError
from distributor.rendering import PostOptions, Utm, measure, render_post, with_utm
from distributor.rendering.counting import link_count
from distributor.rendering.escaping import linkedin_commentary
from distributor.rendering.social import (
    MAX_HASHTAGS,
    MAX_THREAD_PARTS,
    SOCIAL_PLATFORMS,
    THREAD_PLATFORMS,
    hashtags,
)
from distributor.storage import tables as t
from tests.factories import settings_for
from tests.rendering.conftest import (
    SEED_IMAGE_URL,
    SEED_LEAD,
    SEED_TITLE,
    SEED_URL,
    TEMPLATES,
    make_article,
)

NETWORKS = ("x", "linkedin", "facebook", "threads", "telegram")
FAMILY = "👨\u200d👩\u200d👧\u200d👦"
_NUMBERED = re.compile(r" (\d+)/(\d+)$")


def post(article: Article, platform: str, **options: object) -> PostRendition:
    result = render_post(article, platform, templates_dir=TEMPLATES, **options)  # type: ignore[arg-type]
    assert isinstance(result, PostRendition), result
    return result


def lead_of(rendition: PostRendition) -> str:
    return rendition.text.split("\n\n")[1]


@pytest.mark.parametrize("platform", SOCIAL_PLATFORMS)
def test_the_seed_article_fits_every_platform_with_its_link_intact(
    seed_article: Article, platform: str
) -> None:
    rendition = post(seed_article, platform)
    measured = measure(platform, rendition.text)
    assert measured.fits, measured.detail
    assert (rendition.length, rendition.limit) == (measured.length, measured.limit)
    assert rendition.text.startswith(SEED_TITLE)
    assert SEED_URL in rendition.text.split()
    assert rendition.thread == []


def test_the_seed_post_on_x_keeps_the_link_and_shortens_the_lead_at_a_word(
    seed_article: Article,
) -> None:
    rendition = post(seed_article, "x")
    lead = lead_of(rendition)
    assert lead.endswith("…")
    assert SEED_LEAD.startswith(lead.removesuffix("…"))
    assert SEED_LEAD[len(lead) - 1] == " "  # the cut fell between words
    assert rendition.length <= 280
    assert "lead shortened to fit" in rendition.warnings


@pytest.mark.parametrize("platform", ["linkedin", "facebook", "telegram"])
def test_roomy_platforms_carry_the_whole_lead_and_the_hashtags(
    seed_article: Article, platform: str
) -> None:
    rendition = post(seed_article, platform)
    assert SEED_LEAD in rendition.text
    assert rendition.text.endswith("#HumanRightsDefenders #UNSecretaryGeneral")


def test_linkedin_gets_a_link_card_because_its_api_does_not_scrape(
    seed_article: Article,
) -> None:
    rendition = post(seed_article, "linkedin")
    assert rendition.card == LinkCard(
        uri=SEED_URL, title=SEED_TITLE, description=SEED_LEAD, image_url=SEED_IMAGE_URL
    )
    assert rendition.image is not None and rendition.image.alt


@pytest.mark.parametrize("platform", ["x", "facebook", "threads", "telegram", "mastodon"])
def test_platforms_that_unfurl_links_themselves_get_no_card(
    seed_article: Article, platform: str
) -> None:
    rendition = post(seed_article, platform)
    assert rendition.card is None
    assert rendition.image is not None and rendition.image.url == SEED_IMAGE_URL


def test_alt_text_is_cut_to_what_x_accepts_and_kept_longer_elsewhere() -> None:
    alt = "A long description of the photo, word by word. " * 40
    article = make_article(image=Image(url=SEED_IMAGE_URL, credit="UN Photo", alt=alt))
    x_alt = post(article, "x").image
    mastodon_alt = post(article, "mastodon").image
    assert x_alt is not None and x_alt.alt is not None and len(x_alt.alt) <= 1000
    assert mastodon_alt is not None and mastodon_alt.alt is not None
    assert 1000 < len(mastodon_alt.alt) <= 1500


def test_linkedin_text_stays_as_readers_see_it_and_counts_the_escaped_form() -> None:
    lead = "ISHR (Geneva) & partners: #1 priority is [access] for all <defenders>. " * 60
    rendition = post(make_article(lead=lead), "linkedin")
    assert "\\" not in rendition.text  # the adapter escapes on the way out
    escaped = linkedin_commentary(rendition.text)
    assert len(escaped) == rendition.length <= 3000
    assert len(rendition.text) < rendition.length


def test_threads_drops_links_from_the_lead_until_at_most_five_remain() -> None:
    lead = " ".join(f"See https://ishr.ch/report-{n} for part {n}." for n in range(8))
    rendition = post(make_article(lead=lead), "threads")
    assert link_count(rendition.text) <= 5
    assert SEED_URL in rendition.text.split()
    assert "lead shortened to fit" in rendition.warnings
    assert "9 links, but threads refuses more than 5" in rendition.warnings[0]


def test_a_title_with_six_links_is_shortened_on_threads_and_the_article_link_kept() -> None:
    title = " ".join(f"https://ishr.ch/{n}" for n in range(6))
    rendition = post(make_article(title=title), "threads")
    assert link_count(rendition.text) == 5
    assert rendition.text.endswith(SEED_URL)
    assert "lead left out and title shortened to fit" in rendition.warnings


def test_a_link_that_cannot_fit_is_a_render_error_naming_the_count() -> None:
    result = render_post(
        make_article(url="https://ishr.ch/" + "a" * 600), "threads", templates_dir=TEMPLATES
    )
    assert isinstance(result, RenderError)
    assert "the link alone does not fit" in result.message and "1/5 links" in result.message


@pytest.mark.parametrize("platform", SOCIAL_PLATFORMS)
def test_each_platform_gets_at_most_its_number_of_hashtags(platform: str) -> None:
    categories = tuple(f"Topic {word}" for word in ("alpha", "beta", "gamma", "delta", "eps", "z"))
    rendition = post(make_article(title="T", lead="L", categories=categories), platform)
    assert rendition.text.count("#") == MAX_HASHTAGS[platform]


def test_the_number_of_hashtags_can_be_set_per_channel() -> None:
    categories = ("Human rights defenders", "UN Secretary-General")
    assert (
        post(make_article(categories=categories), "linkedin", max_hashtags=0).text.count("#") == 0
    )
    assert post(make_article(categories=categories), "linkedin", max_hashtags=1).text.endswith(
        "\n\n#HumanRightsDefenders"
    )


def test_a_hashtag_is_never_a_word_the_text_already_has() -> None:
    article = make_article(
        title="UN experts meet in Geneva",
        lead="Defenders spoke about #Climate justice.",
        categories=("UN", "Geneva", "Climate", "Human rights defenders", "Reprisals"),
    )
    rendition = post(article, "linkedin")
    assert rendition.text.endswith("\n\n#HumanRightsDefenders #Reprisals")
    assert hashtags(("UN", "Reprisals"), text="un and more") == ["Reprisals"]


def test_threads_are_off_unless_asked_for(seed_article: Article) -> None:
    assert post(seed_article, "x").thread == []


@pytest.mark.parametrize("platform", sorted(THREAD_PLATFORMS))
def test_a_long_lead_becomes_numbered_replies_each_within_the_limit(platform: str) -> None:
    lead = " ".join(
        f"Sentence {n} about defenders and the UN human rights system." for n in range(30)
    )
    rendition = post(make_article(lead=lead), platform, thread=True)
    parts = [rendition.text, *rendition.thread]
    assert len(parts) > 2
    for part in parts:
        assert measure(platform, part).fits, (platform, part)
    first_lead = lead_of(rendition)
    pieces = [first_lead, *rendition.thread]
    numbers = [_NUMBERED.search(piece) for piece in pieces]
    assert [(int(m.group(1)), int(m.group(2))) for m in numbers if m] == [
        (n, len(parts)) for n in range(1, len(parts) + 1)
    ]
    rejoined = " ".join(_NUMBERED.sub("", piece) for piece in pieces)
    assert rejoined == lead  # every word, in order, none cut
    assert SEED_URL in rendition.text.split()
    assert f"lead continued in {len(parts) - 1} numbered replies" in rendition.warnings


def test_a_lead_that_fits_makes_no_thread(seed_article: Article) -> None:
    rendition = post(seed_article, "mastodon", thread=True)
    assert rendition.thread == []
    assert SEED_LEAD in rendition.text


def test_platforms_without_threads_shorten_the_lead_even_when_threads_are_asked_for() -> None:
    lead = "word " * 1000
    rendition = post(make_article(lead=lead), "linkedin", thread=True)
    assert rendition.thread == []
    assert lead_of(rendition).endswith("…")


def test_thread_parts_never_split_an_emoji_sequence_or_cjk_cluster() -> None:
    lead = " ".join([FAMILY + "🇨🇭"] * 80) + " " + "人権擁護者の役割。" * 40
    rendition = post(make_article(lead=lead), "x", thread=True)
    for part in [lead_of(rendition), *rendition.thread]:
        body = _NUMBERED.sub("", part)
        assert body in lead
        assert measure("x", part).fits


def test_a_lead_too_long_for_the_most_parts_is_shortened_with_a_warning() -> None:
    lead = "word " * 5000
    rendition = post(make_article(lead=lead), "x", thread=True)
    assert rendition.thread == []
    assert lead_of(rendition).endswith("…")
    assert (
        f"no thread: the lead needs more than {MAX_THREAD_PARTS} parts; shortened instead"
        in rendition.warnings
    )


def test_a_title_that_leaves_no_room_for_the_lead_makes_no_thread_and_says_why() -> None:
    rendition = post(make_article(title="Long title word " * 40), "x", thread=True)
    assert rendition.thread == []
    assert (
        "no thread: not one word of the lead fits beside the title and the link; "
        "shortened instead" in rendition.warnings
    )
    assert "lead left out and title shortened to fit" in rendition.warnings


def test_utm_parameters_keep_the_existing_query_and_fragment() -> None:
    url = "https://ishr.ch/news/?lang=fr&q=a%20b#top"
    tagged = with_utm(url, source="x", medium="social", campaign="weekly digest")
    assert tagged == (
        "https://ishr.ch/news/?lang=fr&q=a%20b"
        "&utm_source=x&utm_medium=social&utm_campaign=weekly%20digest#top"
    )


def test_utm_parameters_replace_earlier_ones_of_the_same_name() -> None:
    tagged = with_utm("https://ishr.ch/?utm_source=rss&id=7", source="bluesky")
    assert tagged == "https://ishr.ch/?id=7&utm_source=bluesky&utm_medium=social"


def test_utm_is_added_before_the_post_is_measured(seed_article: Article) -> None:
    rendition = post(seed_article, "bluesky", utm=Utm(campaign="weekly"))
    tagged = f"{SEED_URL}?utm_source=bluesky&utm_medium=social&utm_campaign=weekly"
    assert rendition.link == tagged
    assert tagged in rendition.text.split()
    assert rendition.card is not None and rendition.card.uri == tagged
    assert measure("bluesky", rendition.text).fits
    untagged = post(seed_article, "bluesky")
    assert len(lead_of(rendition)) < len(lead_of(untagged))  # the longer link took the room


def test_utm_is_off_by_default(seed_article: Article) -> None:
    assert post(seed_article, "x").link == SEED_URL


def test_format_options_come_from_the_channel_config() -> None:
    options = PostOptions.from_config(
        {"thread": True, "utm": {"campaign": "weekly"}, "max_hashtags": 1}
    )
    assert options == PostOptions(thread=True, utm=Utm(campaign="weekly"), max_hashtags=1)
    assert PostOptions.from_config(None) == PostOptions()
    assert PostOptions.from_config({"utm": True}).utm == Utm()


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"threads": True}, "unknown option(s) threads"),
        ({"thread": "yes"}, "format.thread: expected true or false"),
        ({"max_hashtags": -1}, "format.max_hashtags"),
        ({"utm": {"source": ""}}, "format.utm.source"),
        ({"utm": {"term": "x"}}, "unknown key(s) term"),
        ({"utm": "weekly"}, "format.utm: expected"),
    ],
)
def test_bad_format_options_are_named(config: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        PostOptions.from_config(config)


def test_a_channel_with_threads_and_utm_renders_them(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    channel = t.Channel(
        name="x-main",
        kind="x",
        config={"settings": {}, "format": {"thread": True, "utm": {"campaign": "c"}}},
    )
    lead = " ".join(f"Sentence {n} about defenders." for n in range(40))
    payload = render_for_channel(make_article(lead=lead), channel, settings)
    assert isinstance(payload, dict)
    assert payload["thread"]
    assert payload["link"].endswith("?utm_source=x&utm_medium=social&utm_campaign=c")


def test_a_channel_with_bad_format_options_gets_a_render_error(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    channel = t.Channel(name="x-main", kind="x", config={"format": {"thread": 1}})
    result = render_for_channel(make_article(), channel, settings)
    assert isinstance(result, RenderError)
    assert "x-main" in result.message and "format.thread" in result.message


hostile_text = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=12),
        st.sampled_from(
            [FAMILY, "🇨🇭", "👍🏽", "e\u0301", "日本", "مرحبا", " ", "\n", "#", "ishr.ch"]
        ),
        st.sampled_from(["https://ishr.ch/x", "http://a.b", " …", "\r\n", "word ", "(x) [y]"]),
    ),
    max_size=150,
).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile_text,
    lead=hostile_text,
    categories=st.lists(hostile_text, max_size=6),
    platform=st.sampled_from(NETWORKS),
    thread=st.booleans(),
)
def test_any_article_fits_every_network_with_the_link_intact(
    title: str, lead: str, categories: list[str], platform: str, thread: bool
) -> None:
    article = make_article(title=title, lead=lead, categories=tuple(categories))
    rendition = post(article, platform, thread=thread)
    for part in [rendition.text, *rendition.thread]:
        assert measure(platform, part).fits
    assert SEED_URL in rendition.text.split()
