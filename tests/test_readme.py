"""The README's lists that describe the code are checked against the code: the layout against the
tree, the search methods against the engine registry."""

from __future__ import annotations

import re

from molvae.optimize import engines
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(name: str) -> str:
    found = re.search(rf"<!-- {name}:.*?-->\n(.*?)<!-- /{name} -->", README, re.S)
    assert found, f"the README has no <!-- {name} --> block"
    return found.group(1)


def test_the_layout_lists_every_subpackage_and_only_what_exists():
    listed = {m.group(1).rstrip("/") for m in re.finditer(r"^(\S+/)\s", _block("layout"), re.M)}
    for path in listed:
        assert (ROOT / path).is_dir(), f"the README's layout lists {path}/, which does not exist"
    packages = {
        str(p.parent.relative_to(ROOT))
        for p in (ROOT / "molvae").rglob("__init__.py")
        if p.parent.name != "data" or p.parent.parent.name != "metrics"  # package data, not code
    }
    missing = sorted(packages - listed)
    assert not missing, f"the README's layout does not list {', '.join(missing)}"


def test_the_methods_listed_are_the_registered_engines():
    listed = re.findall(r"^\s*- `([^`]+)`: (.+)$", _block("engines"), re.M)
    assert listed == [(s.name, s.summary) for s in engines.ENGINES.values()]
