"""Templates are looked up by name without asking the loader each time, yet an edited
template is picked up once the loader would recheck it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distributor.rendering import jinja
from distributor.rendering.jinja import text_environment


def _write(directory: Path, source: str) -> None:
    (directory / "social").mkdir(exist_ok=True)
    path = directory / "social" / "post.txt.j2"
    path.write_text(source, encoding="utf-8")
    os.utime(path, (1, 10**10 + len(source)))  # a newer mtime for each edit, whatever the clock


def test_a_template_looked_up_again_within_the_interval_is_the_very_same_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jinja._RecheckingLoader, "RECHECK_SECONDS", 3600.0)
    _write(tmp_path, "{{ title }}")
    environment = text_environment(tmp_path)
    first = environment.template("social/post.txt.j2")
    assert environment.template("social/post.txt.j2") is first


def test_an_edited_template_is_looked_up_anew_once_the_loader_rechecks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jinja._RecheckingLoader, "RECHECK_SECONDS", 0.0)
    _write(tmp_path, "before: {{ title }}")
    environment = text_environment(tmp_path)
    assert environment.template("social/post.txt.j2").render(title="T") == "before: T"
    _write(tmp_path, "after, edited: {{ title }}")
    assert environment.template("social/post.txt.j2").render(title="T") == "after, edited: T"


def test_a_template_looked_up_by_name_is_the_one_jinja_loads(tmp_path: Path) -> None:
    _write(tmp_path, "{{ title | upper }}")
    environment = text_environment(tmp_path)
    assert environment.template("social/post.txt.j2") is environment.get_template(
        "social/post.txt.j2"
    )
