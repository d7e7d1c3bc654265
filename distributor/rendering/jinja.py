"""Jinja2 environments for the content templates in ``templates/``.

Templates are owned by the comms team, so they run sandboxed; article content is only ever
passed in as variables, never compiled as template source. Missing variables fail loudly
(StrictUndefined) instead of rendering as empty strings in a sent newsletter.
"""

from __future__ import annotations

import time
import weakref
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


def _environment(templates_dir: Path, *, autoescape: bool) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        loader=_RecheckingLoader(templates_dir),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Autoescaping prints a token through __html__; plain text needs this hook.
        finalize=None if autoescape else shapes.print_slot,
    )
    shapes.install(environment)
    return environment


@lru_cache(maxsize=8)
def html_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """For MJML/HTML templates: every variable is HTML-escaped unless marked safe."""
    return _environment(templates_dir, autoescape=True)


@lru_cache(maxsize=8)
def text_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """For plain-text parts and social posts, where escaping would show ``&amp;`` to readers."""
    return _environment(templates_dir, autoescape=False)


_LOADED: weakref.WeakKeyDictionary[Environment, dict[str, Template]] = weakref.WeakKeyDictionary()


def get_template(environment: Environment, name: str) -> Template:
    """``environment.get_template(name)``, without the locked LRU bookkeeping Jinja's own
    cache does on every call (rendering one article asks for ten templates). A template
    whose file changed is loaded again, as Jinja's cache would (see _RecheckingLoader)."""
    loaded = _LOADED.setdefault(environment, {})
    template = loaded.get(name)
    if template is None or not template.is_up_to_date:
        template = loaded[name] = environment.get_template(name)
    return template
