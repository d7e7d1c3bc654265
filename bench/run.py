"""Benchmarks, each measured against a reference in the same process and run.

- render: one article (the email and every platform's post) through our pipeline vs raw
  Jinja2 + mjml-python on the same templates (ratio = ours / reference CPU time; goal <= 1.5);
  also printed: the same against the newsletter's MJML template alone (informative)
- fanout: a newsletter through the real path (ledger, personalisation, SMTP) vs plain smtplib
  sending pre-built messages to the same local sink (ratio = our msgs/s / reference; goal >= 0.8)
- memory: peak Python memory of a send at 10k and 100k recipients (ratio = 100k / 10k; goal ~1)
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mjml

from distributor import articles
from distributor.domain import Article
from distributor.ingest.plaintext import parse_plaintext
from distributor.rendering.jinja import html_environment, text_environment
from tests.factories import SEED, approve_all, schedule_now, seed_setup, settings_for


def emit(name: str, ours: float, reference: float, unit: str, ratio: float, **extra: Any) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "ours": round(ours, 4),
                "reference": round(reference, 4),
                "unit": unit,
                "ratio": round(ratio, 3),
                **extra,
            }
        ),
        flush=True,
    )


def cpu_seconds_each(
    ours: Callable[[int], None],
    reference: Callable[[int], None],
    *,
    rounds: int,
    number: int,
    first_call: int = 0,
) -> tuple[float, float, float]:
    """(median CPU seconds per call of ours, of the reference, median ratio of the two)
    over ``rounds`` rounds of ``number`` calls each.

    Each call gets its own number (``first_call``, the next, …) to pick its input by. Rounds are
    short and alternate between the two, and the ratio is taken round by round, so a slow
    spell of the machine (a busy CI runner, a noisy neighbour) weighs on both sides of each
    ratio alike; CPU time, not wall time, is counted."""
    ours_times: list[float] = []
    reference_times: list[float] = []
    for round_number in range(rounds):
        first = first_call + round_number * number
        for fn, times in ((ours, ours_times), (reference, reference_times)):
            start = time.process_time()
            for call in range(first, first + number):
                fn(call)
            times.append((time.process_time() - start) / number)
    ratios = [mine / theirs for mine, theirs in zip(ours_times, reference_times, strict=True)]
    return (
        statistics.median(ours_times),
        statistics.median(reference_times),
        statistics.median(ratios),
    )


def article_variants(article: Article, count: int) -> list[Article]:
    """``count`` different articles shaped like ``article``: each with its own title, lead
    and link, as a stream of real articles would be, so that nothing either side remembers
    of a text it measured or rendered before (X's parse cache, say) is ever used again."""
    slug = (article.url or "https://ishr.ch/news/article/").rstrip("/")
    return [
        dataclasses.replace(
            article,
            title=f"{article.title} ({number})",
            lead=f"Update {number}: {article.lead}",
            url=f"{slug}-{number}/",
        )
        for number in range(count)
    ]


def bench_render() -> None:
    """Our render of one article (the newsletter and every platform's post) against raw
    Jinja2 + mjml-python on the same templates: the newsletter's MJML template compiled by
    mjml-python, its text part, and each platform's post template, all with the values our
    renderer gives them (worked out before timing). Then, for comparison with earlier
    figures, against the newsletter's MJML template alone."""
    from distributor.config import Settings
    from distributor.rendering import render_email, render_post
    from distributor.rendering.social import SOCIAL_PLATFORMS, PostSource

    rounds, number = 90, 10
    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    seed = parse_plaintext(SEED.read_text(encoding="utf-8"), base_url=settings.article_base_url)
    # An article for every call of both comparisons, and one for the warm-up call.
    calls = rounds * number
    articles_ = article_variants(seed, 2 * calls + 1)
    context = articles.email_context(settings)

    def ours(call: int) -> None:
        # As articles.render_renditions does: the email, then every post from one PostSource.
        article = articles_[call]
        render_email(article, context)
        source = PostSource.of(article)
        for platform in SOCIAL_PLATFORMS:
            render_post(source, platform, templates_dir=settings.templates_dir)

    html = html_environment(settings.templates_dir)
    text = text_environment(settings.templates_dir)
    newsletter = html.get_template("email/newsletter.mjml.j2")
    text_part = text.get_template("email/newsletter.txt.j2")
    posts = [text.get_template(f"social/{platform}.txt.j2") for platform in SOCIAL_PLATFORMS]
    variables = [_reference_variables(article) for article in articles_]
    post_variables = [_reference_post_variables(article) for article in articles_]

    def email_template(call: int) -> None:
        mjml.mjml2html(newsletter.render(variables[call]))

    def every_template(call: int) -> None:
        email_template(call)
        text_part.render(variables[call])
        for post in posts:
            post.render(post_variables[call])

    for fn in (ours, email_template, every_template):
        fn(len(articles_) - 1)
    # The inputs of every call are made up front: out of the collector's way, so that
    # neither side pays for the benchmark's own thousands of articles being traversed.
    gc.collect()
    gc.freeze()
    ours_s, ref_s, ratio = cpu_seconds_each(ours, every_template, rounds=rounds, number=number)
    emit(
        "render_article",
        ours_s * 1000,
        ref_s * 1000,
        "ms",
        ratio,
        goal="<= 1.5",
        reference_is="raw Jinja2 + mjml-python on the same templates (newsletter MJML and text, "
        f"{len(SOCIAL_PLATFORMS)} post templates)",
    )
    ours_s, ref_s, ratio = cpu_seconds_each(
        ours, email_template, rounds=rounds, number=number, first_call=calls
    )
    emit(
        "render_article_vs_email_template_only",
        ours_s * 1000,
        ref_s * 1000,
        "ms",
        ratio,
        note="informative: the reference renders the newsletter's MJML template alone, "
        "while ours also makes its text part and every post",
    )


def _reference_post_variables(article: Article) -> dict[str, Any]:
    """A post template's variables for ``article`` as the fitted post has them: one-line
    title and lead, the link, the hashtags."""
    from distributor.rendering.social import PostSource

    source = PostSource.of(article)
    return {
        "title": source.title,
        "lead": source.lead,
        "url": article.url,
        "hashtags": [f"#{tag}" for tag in source.tags],
    }


def _reference_variables(article: Article) -> dict[str, Any]:
    """The newsletter template's variables for ``article``, exactly as our renderer makes
    them (worked out before timing): the reference renders the same template with the same
    values, only without anything of ours around it."""
    from distributor.rendering.email import _article_view, preheader, subject_line

    return {
        "lang": "en",
        "subject": subject_line(article.title),
        "preheader": preheader(article.lead),
        "org_name": "ISHR",
        "postal_address": "Geneva",
        "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
        "preferences_url": "%%PREFERENCES_URL%%",
        "article": _article_view(article),
    }


class SmtpSink:
    """aiosmtpd's Sink in its own process, so the server does not share our GIL."""

    def __init__(self) -> None:
        from tests.peers.local import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "aiosmtpd.handlers.Sink",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _newsletter(recipients: int, sink: SmtpSink, workdir: Path) -> Any:
    from distributor.storage import Database

    db = Database(f"sqlite:///{workdir / 'bench.db'}")
    db.migrate()
    settings = settings_for(db.url, workdir, email_batch_size=200)
    setup = seed_setup(
        db,
        settings,
        subscribers=recipients,
        social=[],
        email={
            "list": "news",
            "transport": "smtp",
            "host": "127.0.0.1",
            "port": sink.port,
            "starttls": False,
        },
    )
    approve_all(setup)
    schedule_now(setup)
    return setup


def _send_everything(setup: Any) -> int:
    from datetime import timedelta

    from distributor import delivery as ledger
    from distributor.sending import Sender
    from distributor.storage.tables import utcnow

    sender = Sender(setup.db, setup.settings)
    sent = 0
    while True:
        with setup.db.session() as session:
            jobs = ledger.dispatch(
                session, now=utcnow(), lease=timedelta(minutes=5), limit=2000, batch=200
            )
        if not jobs:
            return sent
        for job in jobs:
            sent += sender.send_email_batch(list(job.delivery_ids)).get("sent", 0)


def bench_fanout(recipients: int, rounds: int = 5) -> None:
    """Messages per second through the real path and through plain smtplib, in ``rounds``
    paired rounds of ``recipients`` each (a fresh newsletter every round), reported as the
    medians: one long run each swung between 0.75 and 1.03 on a noisy machine."""
    sink = SmtpSink()
    ours: list[float] = []
    reference: list[float] = []
    try:
        for _ in range(rounds):
            mine, theirs = _fanout_round(recipients, sink)
            ours.append(mine)
            reference.append(theirs)
    finally:
        sink.stop()
    emit(
        "newsletter_fanout",
        statistics.median(ours),
        statistics.median(reference),
        "msgs/s",
        statistics.median(mine / theirs for mine, theirs in zip(ours, reference, strict=True)),
        recipients=recipients,
        rounds=rounds,
        goal=">= 0.8",
    )


def _fanout_round(recipients: int, sink: SmtpSink) -> tuple[float, float]:
    """(our msgs/s, plain smtplib's msgs/s) for one newsletter to ``recipients``."""
    from sqlalchemy import select

    from distributor.mail import MessageTemplate
    from distributor.sending import email_from_payload
    from distributor.storage import tables as t

    with tempfile.TemporaryDirectory() as tmp:
        setup = _newsletter(recipients, sink, Path(tmp))
        start = time.perf_counter()
        sent = _send_everything(setup)
        ours = sent / (time.perf_counter() - start)
        with setup.db.session() as session:
            payload = session.scalars(
                select(t.Rendition.payload).join(t.Channel).where(t.Channel.kind == "email")
            ).one()
        setup.db.engine.dispose()
    template = MessageTemplate.build(
        email_from_payload(payload),
        sender="ISHR <news@ishr.example>",
        list_id="news.ishr.example",
        message_id_domain="ishr.example",
    )
    prebuilt = [
        template.personalise(
            to_email=f"reader{n:05d}@example.org",
            to_name="",
            message_id=f"ref-{n}",
            unsubscribe_url="https://x.example/u/t",
            preferences_url="https://x.example/p/t",
        )
        for n in range(recipients)
    ]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for n, raw in enumerate(prebuilt):
            smtp.sendmail("news@ishr.example", [f"reader{n:05d}@example.org"], raw)
    return ours, recipients / (time.perf_counter() - start)


def peak_memory_mb(recipients: int) -> float:
    """Peak RSS of a fresh process that schedules and sends to ``recipients`` addresses."""
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from bench.run import SmtpSink, _newsletter, _send_everything\n"
        "sink = SmtpSink()\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        f"    setup = _newsletter({recipients}, sink, Path(tmp))\n"
        "    sent = _send_everything(setup)\n"
        "sink.stop()\n"
        f"assert sent == {recipients}, sent\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a child of a big
        # parent (this one, after the render benchmark) would report the parent's peak.
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(int(hwm.split()[1]))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    return int(result.stdout.split()[-1]) / 1024


def bench_memory(small: int, large: int) -> None:
    at_small = peak_memory_mb(small)
    at_large = peak_memory_mb(large)
    emit(
        "send_peak_memory",
        at_large,
        at_small,
        "MB",
        at_large / at_small,
        small=small,
        large=large,
        goal="flat (ratio ~1)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["render", "fanout", "memory"], action="append")
    parser.add_argument("--fanout-recipients", type=int, default=1000)
    parser.add_argument("--memory-small", type=int, default=10_000)
    parser.add_argument("--memory-large", type=int, default=100_000)
    args = parser.parse_args()
    chosen = args.only or ["render", "fanout", "memory"]
    if "render" in chosen:
        bench_render()
    if "fanout" in chosen:
        bench_fanout(args.fanout_recipients)
    if "memory" in chosen:
        bench_memory(args.memory_small, args.memory_large)


if __name__ == "__main__":
    main()
