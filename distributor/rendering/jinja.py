"""Jinja2 environments for the content templates in ``templates/``.

Templates are owned by the comms team, so they run sandboxed; article content is only ever
passed in as variables, never compiled as template source. Missing variables fail loudly
(StrictUndefined) instead of rendering as empty strings in a sent newsletter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from distributor.rendering import shapes


class _RecheckingLoader(FileSystemLoader):
    """A FileSystemLoader whose templates check their file for edits at most once a second,
    rather than at every render (a stat each time a post is fitted)."""

    RECHECK_SECONDS = 1.0

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        checked_at = time.monotonic()
        fresh = True

        def recently_checked() -> bool:
            nonlocal checked_at, fresh
            now = time.monotonic()
            if fresh and now - checked_at < self.RECHECK_SECONDS:
                return True
            checked_at, fresh = now, uptodate()
            return fresh

        return source, filename, recently_checked


class ContentEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed environment of the content templates, with a lookup of templates by
    name that costs a dictionary lookup while the loader would not recheck the file anyway
    (Jinja's own cache takes a lock and reorders its LRU on every call, and rendering one
    article asks for ten templates)."""

    def __init__(self, templates_dir: Path, *, autoescape: bool) -> None:
        super().__init__(
            loader=_RecheckingLoader(templates_dir),
            autoescape=autoescape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Autoescaping prints a token through __html__; plain text needs this hook.
            finalize=None if autoescape else shapes.print_slot,
        )
        shapes.install(self)
        self._looked_up: dict[str, tuple[Template, float]] = {}

    def template(self, name: str) -> Template:
        """``get_template(name)``, as fresh as _RecheckingLoader keeps it."""
        now = time.monotonic()
        looked_up = self._looked_up.get(name)
        if looked_up is not None and now - looked_up[1] < _RecheckingLoader.RECHECK_SECONDS:
            return looked_up[0]
        template = self.get_template(name)
        self._looked_up[name] = (template, now)
        return template


@lru_cache(maxsize=8)
def html_environment(templates_dir: Path) -> ContentEnvironment:
    """For MJML/HTML templates: every variable is HTML-escaped unless marked safe."""
    return ContentEnvironment(templates_dir, autoescape=True)


@lru_cache(maxsize=8)
def text_environment(templates_dir: Path) -> ContentEnvironment:
    """For plain-text parts and social posts, where escaping would show ``&amp;`` to readers."""
    return ContentEnvironment(templates_dir, autoescape=False)
