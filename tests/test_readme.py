"""The README tells a newcomer what the test suite needs: each service with its variable and
default, as the fixtures read them, and the driver extra of each database; its example is
tested with the application test kit."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

from cqrs.testing._support.services import SERVICES
from cqrs.testing.pytest_plugin import AppFactory
from tests.test_docs import _python_blocks

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_names_each_service_with_its_variable_and_default() -> None:
    for service in SERVICES.values():
        assert f"`{service.env}` (`{service.default_url}`)" in README, service.name


def test_the_readme_names_each_driver_extra_of_cqrs_sqla() -> None:
    project = tomllib.loads((ROOT / "packages/cqrs-sqla/pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert extras
    for extra in extras:
        assert f"`cqrs-sqla[{extra}]`" in README, extra


@pytest.fixture
def readme_example(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The README's example program as a module, defined but not run (its
    `asyncio.run(main())` left out)."""
    [block] = [block for block, _ in _python_blocks(ROOT / "README.md")]
    code = block.code.replace("asyncio.run(main())", "")
    module = types.ModuleType("readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, "README.md", "exec"), module.__dict__)
    return module.__dict__


async def test_the_readme_example_with_the_test_kit(
    readme_example: dict[str, Any], cqrs_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's handlers, tested as docs/testing.md shows: the command is accepted, its
    domain event confirms the order, and nothing leaves the process."""
    place_order = readme_example["PlaceOrder"]
    async with cqrs_app(
        commands_mapper=lambda m: m.bind(place_order, readme_example["PlaceOrderHandler"]),
        domain_events_mapper=lambda m: m.bind(
            readme_example["OrderPlaced"], readme_example["ConfirmOrder"]
        ),
    ) as app:
        assert await app.send(place_order(order_id="A-9", amount=5)) == "order A-9 accepted"
        app.published.assert_published([])
    assert capsys.readouterr().out == "confirming A-9 for 5\n"
    assert readme_example["TOTALS"] == {"A-9": 5}
