"""Every ```python block of docs/*.md and README.md runs, so the documentation cannot rot.

A page's blocks run in order in one module namespace (later blocks use earlier names) inside one
event loop, with top-level `await` allowed. A ```text block titled "Output" right after a python
block must equal what that block printed. Blocks that are not Python use another language tag
(```bash, ```toml, ```text); there is no other way to opt out.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import inspect
import io
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import cqrs
from cqrs.plugins import set_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

PAGE_MODULE = "app"
"""The module name a page's code runs as, so messages naming a class read `app.Thing`."""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language and title, and its code."""

    page: Path
    line: int
    language: str
    title: str
    code: str


def parse_blocks(page: Path) -> list[Block]:
    """Fenced blocks of a Markdown page, dedented when nested in a list or admonition."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        language = info.split(" ", 1)[0].split("{", 1)[0].strip().lower()
        title_match = re.search(r'title="([^"]*)"', info)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{page.name}:{i + 1}: unclosed code fence")
        blocks.append(
            Block(page, i + 1, language, title_match[1] if title_match else "", "\n".join(body))
        )
        i = j + 1
    return blocks


def _python_blocks(page: Path) -> list[tuple[Block, str | None]]:
    """The python blocks of a page, each with the expected output that follows it, if any."""
    blocks = parse_blocks(page)
    found: list[tuple[Block, str | None]] = []
    for index, block in enumerate(blocks):
        if block.language not in ("python", "py", "python3", "pycon"):
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = None
        if following is not None and following.language == "text" and following.title == "Output":
            expected = following.code
        found.append((block, expected))
    return found


CASES = [
    pytest.param(page, number, id=f"{page.relative_to(ROOT)}:block{number}:line{block.line}")
    for page in PAGES
    for number, (block, _) in enumerate(_python_blocks(page))
]


def _run_block(block: Block, module: types.ModuleType, loop: asyncio.AbstractEventLoop) -> str:
    """Run one block in `module`'s namespace; return what it printed.

    A block with top-level `await` runs on the page's event loop; any other block runs with no
    loop running, so a complete script calling `asyncio.run(main())` works as it would for a user.
    """
    filename = f"{block.page.relative_to(ROOT)}:{block.line}"
    # Pad so tracebacks show the line number of the Markdown file.
    source = "\n" * block.line + block.code
    code = compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(code, module.__dict__)
        if inspect.iscoroutine(result):
            loop.run_until_complete(result)
    return out.getvalue()


def _run_page(page: Path, upto: int) -> None:
    """Run the page's python blocks 0..`upto` in order, checking the last one's Output block."""
    module = types.ModuleType(PAGE_MODULE)
    previous = sys.modules.get(PAGE_MODULE)
    sys.modules[PAGE_MODULE] = module
    loop = asyncio.new_event_loop()
    try:
        for number, (block, expected) in enumerate(_python_blocks(page)[: upto + 1]):
            try:
                printed = _run_block(block, module, loop)
            except Exception as exc:
                if number < upto:
                    pytest.fail(
                        f"earlier block {number} (line {block.line}) of {page.name} failed: "
                        f"{type(exc).__name__}: {exc}"
                    )
                raise
            if number == upto and expected is not None:
                assert printed.rstrip("\n") == expected.rstrip("\n"), (
                    f"{page.name}:{block.line} printed:\n{printed}\nexpected (Output block):\n"
                    f"{expected}"
                )
    finally:
        _close(loop)
        if previous is None:
            sys.modules.pop(PAGE_MODULE, None)
        else:
            sys.modules[PAGE_MODULE] = previous


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a page left running (subscriptions, tasks) and close its loop."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages import the generated protobuf code kept under examples/ (`meetings_pb2`)."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))


@pytest.fixture(autouse=True)
def _fresh_plugin_manager() -> Iterator[None]:
    """Each page starts with a new plugin manager, so in-process registrations do not leak."""
    set_plugin_manager(None)
    yield
    set_plugin_manager(None)


@pytest.mark.parametrize(("page", "number"), CASES)
def test_code_block_runs(page: Path, number: int) -> None:
    """The page's blocks up to this one run without error and print what the page says."""
    _run_page(page, number)


def test_pages_have_python_blocks() -> None:
    """The parser finds the examples (a broken fence regex would silently test nothing)."""
    assert len(CASES) >= 40
    assert any(page.name == "README.md" for page, _ in (c.values for c in CASES))


def test_every_public_name_is_documented() -> None:
    """Each name in `cqrs.__all__` appears in the documentation."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    missing = [name for name in cqrs.__all__ if not re.search(rf"\b{re.escape(name)}\b", text)]
    assert missing == []


def test_parser_handles_indented_fences_and_titles(tmp_path: Path) -> None:
    """Blocks nested in admonitions are dedented and the Output title is recognised."""
    page = tmp_path / "page.md"
    page.write_text(
        '!!! note\n    ```python\n    print("hi")\n    ```\n\n```text title="Output"\nhi\n```\n',
        encoding="utf-8",
    )
    [(block, expected)] = _python_blocks(page)
    assert block.code == 'print("hi")'
    assert expected == "hi"


def _defined_tests() -> set[str]:
    """Every `test_*` function defined under tests/ and packages/*/tests/."""
    names: set[str] = set()
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("packages/*/tests/**/*.py")]
    for source in sources:
        names.update(re.findall(r"^\s*(?:async\s+)?def\s+(test_\w+)", source.read_text(), re.M))
    return names


def test_every_test_a_failure_table_names_exists() -> None:
    """A failure-mode row names its test; a renamed or deleted test must not leave it dangling."""
    defined = _defined_tests()
    named: dict[str, set[str]] = {}
    for page in (ROOT / "docs").rglob("*.md"):
        for line in page.read_text().splitlines():
            if line.startswith("|"):
                for name in re.findall(r"`(test_\w+)`", line):
                    named.setdefault(name, set()).add(page.name)
    assert len(named) > 50, "the failure tables name their tests"
    dangling = {name: sorted(pages) for name, pages in named.items() if name not in defined}
    assert dangling == {}
