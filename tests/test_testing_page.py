"""The test functions docs/testing.md shows pass as real pytest tests, with the plugin's fixtures.

tests/test_docs.py runs the page's blocks as plain code (calling each test with `AppHarness`);
here the same functions are written to a test module and run by pytest, which gives them
`cqrs_app` from the plugin that `cqrs-core` registers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_docs import _python_blocks

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
_TOP_LEVEL_AWAIT = re.compile(r"^await ", re.M)


def _page_as_test_module() -> tuple[str, int]:
    """The page's code with its top-level calls removed, and how many tests it defines."""
    code = "\n\n".join(block.code for block, _ in _python_blocks(PAGE))
    kept = "\n".join(line for line in code.splitlines() if not _TOP_LEVEL_AWAIT.match(line))
    return kept, len(re.findall(r"^async def test_", kept, re.M))


def test_the_page_tests_pass_under_pytest(pytester: pytest.Pytester) -> None:
    module, count = _page_as_test_module()
    assert count == 5
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_orders=module)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=count)
