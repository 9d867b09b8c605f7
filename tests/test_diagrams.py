"""The Mermaid diagrams shown in the docs are what `SagaMermaid` and `CoRMermaid` generate today.

A ```mermaid block of a page (rendered as a picture by the site) follows the ```python block
that prints it; the page's python blocks run as tests/test_docs.py runs them, and the text the
block prints must equal the embedded diagram. So a change to the generators, or to the
documented saga or chain, fails here until the page is regenerated.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cqrs.plugins import set_plugin_manager

ROOT = Path(__file__).resolve().parents[1]


def _docs_runner() -> Any:
    """tests/test_docs.py, loaded by path (tests/ is no package): its block parser and runner."""
    spec = importlib.util.spec_from_file_location("_docs_runner", ROOT / "tests" / "test_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


_DOCS = _docs_runner()

DIAGRAM_PAGES = ("sagas.md", "chain-of-responsibility.md")
"""The pages that must show diagrams; any other page's ```mermaid blocks are checked too."""


def _diagram_blocks(page: Path) -> list[tuple[Any, Any]]:
    """Each ```mermaid block of `page` with the block just before it."""
    blocks = _DOCS.parse_blocks(page)
    return [
        (blocks[index - 1] if index else None, block)
        for index, block in enumerate(blocks)
        if block.language == "mermaid"
    ]


CASES = [
    pytest.param(page, number, id=f"{page.name}:diagram{number}:line{block.line}")
    for page in sorted((ROOT / "docs").glob("*.md"))
    for number, (_, block) in enumerate(_diagram_blocks(page))
]


@pytest.fixture(autouse=True)
def _fresh_plugin_manager() -> Iterator[None]:
    set_plugin_manager(None)
    yield
    set_plugin_manager(None)


def _printed_by(page: Path, block: Any) -> str:
    """Run `page`'s python blocks up to `block` as tests/test_docs.py does; what `block` printed."""
    module = types.ModuleType(_DOCS.PAGE_MODULE)
    previous = sys.modules.get(_DOCS.PAGE_MODULE)
    sys.modules[_DOCS.PAGE_MODULE] = module
    loop = asyncio.new_event_loop()
    try:
        for python, _ in _DOCS._python_blocks(page):
            printed: str = _DOCS._run_block(python, module, loop)
            if python == block:
                return printed
        raise AssertionError(f"{page.name}:{block.line} is not a python block")
    finally:
        _DOCS._close(loop)
        if previous is None:
            sys.modules.pop(_DOCS.PAGE_MODULE, None)
        else:
            sys.modules[_DOCS.PAGE_MODULE] = previous


@pytest.mark.parametrize(("page", "number"), CASES)
def test_an_embedded_diagram_is_what_its_generator_prints(page: Path, number: int) -> None:
    source, diagram = _diagram_blocks(page)[number]
    where = f"{page.name}:{diagram.line}: a mermaid block follows the python block printing it"
    assert source is not None, where
    assert source.language == "python", where
    printed = _printed_by(page, source)
    assert printed.rstrip("\n") == diagram.code.rstrip("\n"), (
        f"{page.name}:{diagram.line} is out of date; the block at line {source.line} now "
        f"prints:\n{printed}"
    )


@pytest.mark.parametrize("name", DIAGRAM_PAGES)
def test_the_saga_and_chain_pages_show_both_kinds_of_diagram(name: str) -> None:
    shown = [block.code.split("\n", 1)[0] for _, block in _diagram_blocks(ROOT / "docs" / name)]
    assert "sequenceDiagram" in shown
    assert "classDiagram" in shown


def test_the_site_renders_mermaid_blocks() -> None:
    """mkdocs.yml turns ```mermaid fences into the `<pre class="mermaid">` Material draws."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    fence = config.split("custom_fences:", 1)[1]
    assert "- name: mermaid" in fence
    assert "class: mermaid" in fence
    assert "format: !!python/name:pymdownx.superfences.fence_code_format" in fence
