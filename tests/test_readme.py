"""The README tells a newcomer what the test suite needs: each service with its variable and
default, as the fixtures read them, and the driver extra of each database."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cqrs.testing._support.services import SERVICES

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
