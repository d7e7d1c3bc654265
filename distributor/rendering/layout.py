"""MJML layout compiled once per template shape, filled per article.

MJML → HTML is the costliest step of rendering, yet it only lays out the template: article
text passes through it unchanged. So the template is rendered with a unique token in place
of every non-empty string variable; that token-filled MJML (the *shape*: which sections
exist, how many related articles) is compiled once and cached, and each article's escaped
values are put where the tokens landed in the HTML.

This is only sound when the template does nothing with a value but print it. A token
therefore refuses every other use (a filter, a comparison, ``length``, concatenation): the
template falls back to compiling the article's own MJML. Truthiness is safe: empty strings
stay real values, so ``{% if article.lead %}`` takes the same branch with and without tokens.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Hashable
from typing import Any, NoReturn

from jinja2 import Template
from markupsafe import Markup, escape

_NONCE = "".join(secrets.choice("0123456789") for _ in range(12))
_TOKEN = re.compile(rf"%%SLOT{_NONCE}x(\d+)%%")


class ValueInspected(Exception):
    """The template used a value for more than printing it: its layout depends on the text."""


class _Slot:
    # Underscored, so the sandbox refuses it to templates.
    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    def __html__(self) -> str:
        return self._token

    def __bool__(self) -> bool:
        return True  # only non-empty strings become slots

    def _inspected(self, *_: Any, **__: Any) -> NoReturn:
        raise ValueInspected

    __str__ = __len__ = __iter__ = __getitem__ = __contains__ = _inspected
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _inspected
    __add__ = __radd__ = __mod__ = __mul__ = __format__ = __int__ = __float__ = _inspected
    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> NoReturn:
        raise ValueInspected


_SLOT = object()  # where a string sits in a variables structure


def _structure(value: Any, values: list[str]) -> Hashable:
    """What the template's output can depend on: the nesting, list lengths, empty and
    non-string values, with ``_SLOT`` for each non-empty string. ``values`` collects those
    strings in order, as the autoescaped template would print them."""
    kind = type(value)
    if kind is dict:
        return tuple((key, _structure(item, values)) for key, item in value.items())
    if kind is list or kind is tuple:
        return ("list", *(_structure(item, values) for item in value))
    if isinstance(value, str) and value:
        values.append(str(value) if isinstance(value, Markup) else str(escape(value)))
        return _SLOT
    return value  # type: ignore[no-any-return]


def _tokenise(value: Any, counter: list[int]) -> Any:
    """``value`` with every non-empty string replaced by a slot, numbered in the order
    ``_structure`` collects them."""
    kind = type(value)
    if kind is dict:
        return {key: _tokenise(item, counter) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_tokenise(item, counter) for item in value]
    if isinstance(value, str) and value:
        counter[0] += 1
        return _Slot(f"%%SLOT{_NONCE}x{counter[0] - 1}%%")
    return value


_LAYOUTS: dict[tuple[Template, Callable[[str], str], Hashable], str] = {}
_LAYOUTS_KEPT = 64
_LAYOUTS_LOCK = threading.Lock()


def _layout(template: Template, variables: Any, compile_mjml: Callable[[str], str]) -> str:
    """The HTML of ``template`` for every article of this structure, with tokens where the
    values go. Slots make the render a function of the structure alone (a template that
    looks at a value raises), so it can be cached by structure."""
    html = compile_mjml(template.render(_tokenise(variables, [0])))
    # A token MJML rewrote (re-encoded, split) would leave a value out of the newsletter.
    if html.count(_NONCE) != len(_TOKEN.findall(html)):
        raise ValueInspected
    return html


def render_html(
    template: Template, variables: dict[str, Any], compile_mjml: Callable[[str], str]
) -> str:
    """The HTML that ``compile_mjml(template.render(variables))`` gives; the template and
    MJML run only for a template and structure not seen before."""
    values: list[str] = []
    try:
        key = (template, compile_mjml, _structure(variables, values))
        html = _LAYOUTS.get(key)
        if html is None:
            html = _layout(template, variables, compile_mjml)
            with _LAYOUTS_LOCK:
                if len(_LAYOUTS) >= _LAYOUTS_KEPT:
                    _LAYOUTS.pop(next(iter(_LAYOUTS)))
                _LAYOUTS[key] = html
    except Exception:
        # Whatever went wrong (a template using a value, an MJML error), the article's own
        # MJML decides: it renders, or raises the error about the article, not about tokens.
        return compile_mjml(template.render(variables))
    return _TOKEN.sub(lambda match: values[int(match.group(1))], html)
