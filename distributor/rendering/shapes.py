"""Templates rendered once per shape, filled per article.

A template's output depends on its variables in two ways: *where* each value lands (the
shape: which sections exist, how many related articles or hashtags) and the value itself.
Rendering with a token in place of every non-empty string gives the shape, which is cached
by the variables' structure; a render is then a substitution of the article's values into
it. For the newsletter the cached shape is even the compiled MJML: MJML lays the template
out and passes article text through unchanged, and it is the costliest step of rendering.

This is only sound when the template does nothing with a value but print it, or pass it
through a pure string filter (``upper``, ``trim``…, applied to the real value on the way in).
A token refuses every other use (a comparison, ``length``, a test, concatenation) and the
template is then rendered the ordinary way. Truthiness is safe: empty strings stay real
values, so ``{% if article.lead %}`` takes the same branch with and without tokens.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jinja2 import Environment, Template, pass_eval_context
from jinja2.filters import do_join
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

_NONCE = "".join(secrets.choice("0123456789") for _ in range(12))
_TOKEN = re.compile(rf"%%SLOT{_NONCE}x(\d+)%%")
# Pure str → str filters: on a token they are recorded and applied to the value instead.
LIFTED_FILTERS = ("upper", "lower", "title", "capitalize", "trim")


# A value computed from others: (indices of its source values, function of them).
_Derived = tuple[tuple[int, ...], Callable[..., Any]]


class ValueInspected(Exception):
    """The template used a value for more than printing it: its shape depends on the text."""


@dataclass
class _Render:
    """One tokenised render: how many values there are, and the filtered values it derived."""

    html: bool
    count: int = 0
    derived: list[_Derived] = field(default_factory=list)

    def slot(self) -> _Slot:
        self.count += 1
        return _Slot(self, self.count - 1)

    def derive(self, sources: tuple[_Slot, ...], function: Callable[..., Any]) -> _Slot:
        self.derived.append((tuple(source._index for source in sources), function))
        return self.slot()


class _Slot:
    # Underscored, so the sandbox refuses them to templates.
    __slots__ = ("_index", "_render")

    def __init__(self, render: _Render, index: int) -> None:
        self._render = render
        self._index = index

    def _token(self) -> str:
        return f"%%SLOT{_NONCE}x{self._index}%%"

    def __html__(self) -> str:
        if not self._render.html:
            raise ValueInspected  # HTML-escaping a value in a text template
        return self._token()

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


def print_slot(value: Any) -> Any:
    """The text environment's ``finalize``: a token prints as itself, anything else as usual."""
    return value._token() if type(value) is _Slot else value


def lift(filter_function: Callable[..., str]) -> Callable[..., Any]:
    """``filter_function`` that, given a token, records itself to run on the real value."""

    def lifted(value: Any, *args: Any, **kwargs: Any) -> Any:
        if type(value) is not _Slot:
            return filter_function(value, *args, **kwargs)
        if any(type(arg) is _Slot for arg in (*args, *kwargs.values())):
            raise ValueInspected
        return value._render.derive((value,), lambda text: filter_function(text, *args, **kwargs))

    return lifted


@pass_eval_context
def join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: Any = None) -> Any:
    """Jinja's ``join``, which on a list of tokens in a text template records the join."""
    if (
        attribute is None
        and not eval_ctx.autoescape
        and type(value) in (list, tuple)
        and value
        and all(type(item) is _Slot for item in value)
        and type(d) is str
    ):
        separator = d
        return value[0]._render.derive(tuple(value), lambda *parts: separator.join(parts))
    return do_join(eval_ctx, value, d, attribute)


def install(environment: Environment) -> None:
    """Let ``environment``'s pure string filters work on tokens (see the module docstring)."""
    for name in LIFTED_FILTERS:
        environment.filters[name] = lift(environment.filters[name])
    environment.filters["join"] = join


_SLOT = object()  # where a string sits in a variables structure


def _structure(value: Any, values: list[Any]) -> Hashable:
    """What the template's output can depend on: the nesting, list lengths, empty and
    non-string values, with ``_SLOT`` for each non-empty string. ``values`` collects those
    strings in order."""
    kind = type(value)
    if kind is str or kind is Markup:
        if value:
            values.append(value)
            return _SLOT
        return value  # type: ignore[no-any-return]
    if kind is dict:
        return tuple([(key, _structure(item, values)) for key, item in value.items()])
    if kind is list or kind is tuple:
        return ("list", *[_structure(item, values) for item in value])
    if isinstance(value, str) and value:
        values.append(value)
        return _SLOT
    return value  # type: ignore[no-any-return]


def _tokenise(value: Any, render: _Render) -> Any:
    """``value`` with every non-empty string replaced by a slot, numbered in the order
    ``_structure`` collects them."""
    kind = type(value)
    if kind is dict:
        return {key: _tokenise(item, render) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_tokenise(item, render) for item in value]
    if isinstance(value, str) and value:
        return render.slot()
    return value


class Variables:
    """Template variables whose structure is worked out once, for rendering several
    templates with them (the newsletter's HTML and text parts)."""

    __slots__ = ("mapping", "structure", "values")

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping
        self.values: list[Any] = []
        self.structure = _structure(mapping, self.values)


@dataclass(frozen=True)
class Shape:
    """A template's output for one structure of variables: literal text around numbered
    slots, and the values filters derive from the given ones."""

    # [literal, None, literal, None, …, literal]: the None items are where values go.
    pieces: tuple[str | None, ...]
    slots: tuple[int, ...]
    derived: tuple[_Derived, ...]
    escapes: bool

    def fill(self, values: list[Any], accept: Callable[[str], bool] | None = None) -> str | None:
        """The output for ``values`` (the structure's strings in order; the ones filters
        derive from them are appended). None when a filter fails on a real value (the
        ordinary render then reports it) or ``accept`` refuses a derived value."""
        given = len(values)
        try:
            for sources, function in self.derived:
                values.append(function(*[values[index] for index in sources]))
        except Exception:
            return None
        if accept is not None and not all(map(accept, values[given:])):
            return None
        if self.escapes:
            values = [_html(value) for value in values]
        pieces = list(self.pieces)
        pieces[1::2] = [values[index] for index in self.slots]
        return "".join(pieces)  # type: ignore[arg-type]  # every None is now a value


def _html(value: Any) -> str:
    """``str(markupsafe.escape(value))``, without making a Markup of every value: the same
    five replacements (``&`` first), and markup (``__html__``) as it is."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace(">", "&gt;")
            .replace("<", "&lt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
        )
    return str(escape(value))


def _no_finish(output: str) -> str:
    return output


_SHAPES: dict[tuple[Template, Callable[[str], str], Hashable], Shape | None] = {}
_SHAPES_KEPT = 256
_SHAPES_LOCK = threading.Lock()


def _compile(template: Template, variables: Any, finish: Callable[[str], str]) -> Shape | None:
    """The shape, or None when the template looks at a value (or fails on tokens)."""
    render = _Render(html=template.environment.autoescape is True)
    try:
        output = finish(template.render(_tokenise(variables, render)))
    except Exception:
        # Whatever went wrong (a template using a value, an MJML error), the ordinary render
        # decides: it succeeds, or raises the error about the article, not about tokens.
        return None
    parts = _TOKEN.split(output)
    # A token the finishing step rewrote (re-encoded, split) would lose a value.
    if output.count(_NONCE) != len(parts) // 2:
        return None
    pieces: list[str | None] = list(parts)
    pieces[1::2] = [None] * (len(parts) // 2)
    return Shape(
        tuple(pieces),
        tuple(int(index) for index in parts[1::2]),
        tuple(render.derived),
        template.environment.autoescape is True,
    )


def shape(
    template: Template,
    structure: Hashable,
    variables: Any,
    finish: Callable[[str], str] = _no_finish,
) -> Shape | None:
    """The cached shape of ``template`` for variables of this ``structure`` (any hashable
    that differs whenever the output's layout can, as ``_structure`` gives), made from
    ``variables`` on first use. None: the template must be rendered the ordinary way."""
    key = (template, finish, structure)
    try:
        return _SHAPES[key]
    except KeyError:
        pass
    compiled = _compile(template, variables, finish)
    with _SHAPES_LOCK:
        if len(_SHAPES) >= _SHAPES_KEPT:
            _SHAPES.pop(next(iter(_SHAPES)), None)
        _SHAPES[key] = compiled
    return compiled


def render(
    template: Template,
    variables: dict[str, Any] | Variables,
    finish: Callable[[str], str] = _no_finish,
) -> str:
    """``finish(template.render(variables))``, running the template and ``finish`` only for a
    template and structure of variables not seen before."""
    if not isinstance(variables, Variables):
        variables = Variables(variables)
    compiled = shape(template, variables.structure, variables.mapping, finish)
    output = None if compiled is None else compiled.fill(list(variables.values))
    if output is None:
        return finish(template.render(variables.mapping))
    return output
