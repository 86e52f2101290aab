"""Every example in a docstring of ``qa`` runs and prints what it shows, so a documented example cannot rot.

The modules are found by walking the package, so a new module's examples are checked without being listed here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import qa

MODULES = sorted(m.name for m in pkgutil.walk_packages(qa.__path__, "qa.") if m.name != "qa.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_the_examples_are_found() -> None:
    """The walk reaches the sub-packages, and the modules known to carry examples do carry them."""
    assert {"qa.index.manifest", "qa.ingest.chunking", "qa.ingest.readers.md", "qa.text"} <= set(MODULES)
    tried = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert tried >= 50
