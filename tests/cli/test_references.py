"""`module:attribute` references (`--app`, `--container`) load or fail in one line, exit code 3.

`cqrs relay` takes no reference, so the loader the commands share is tested directly, and
through `report`, which prints what `cqrs.cli.main` prints. Before it, a bad `--app` of
`cqrs saga recover` ended in a raw `AttributeError` traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cqrs._cli_support import CommandError, ExitCode, load_reference, report


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory of throwaway modules on `sys.path`, forgotten after the test."""
    (tmp_path / "refs_ok.py").write_text("class Thing:\n    value = 42\n\nsagas = {'a': 1}\n")
    (tmp_path / "refs_broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "refs_needs_dep.py").write_text("import refs_not_installed_dep\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("refs_ok", "refs_broken", "refs_needs_dep"):
        sys.modules.pop(name, None)


def failure(reference: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        load_reference(reference, option="--app")
    assert info.value.code == ExitCode.CONFIG
    assert "\n" not in str(info.value)
    return info.value


def test_a_reference_loads_its_attribute(modules: Path) -> None:
    assert load_reference("refs_ok:sagas") == {"a": 1}
    assert load_reference("refs_ok:Thing.value") == 42


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("refs_ok", "--app 'refs_ok': expected module:attribute, e.g. myapp.sagas:init"),
        (":sagas", "--app ':sagas': expected module:attribute, e.g. myapp.sagas:init"),
        (
            "refs_missing_module:app",
            "--app 'refs_missing_module:app': no module named 'refs_missing_module' "
            "(is it installed?)",
        ),
        ("refs_ok:missing", "--app 'refs_ok:missing': refs_ok has no attribute 'missing'"),
        (
            "refs_ok:Thing.deeper",
            "--app 'refs_ok:Thing.deeper': refs_ok.Thing has no attribute 'deeper'",
        ),
        (
            "refs_broken:app",
            "--app 'refs_broken:app': importing refs_broken failed: RuntimeError: boom at import",
        ),
        (
            "refs_needs_dep:app",
            "--app 'refs_needs_dep:app': importing refs_needs_dep failed: "
            "ModuleNotFoundError: No module named 'refs_not_installed_dep'",
        ),
    ],
)
def test_a_bad_reference_is_one_configuration_line(
    modules: Path, reference: str, message: str
) -> None:
    assert str(failure(reference)) == message


def test_the_command_prints_one_line_and_returns_the_code(
    modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = failure("refs_ok:missing")
    assert report(error, command="saga", debug=False) == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert (
        captured.err == "cqrs saga: --app 'refs_ok:missing': refs_ok has no attribute 'missing'\n"
    )

    assert report(error, command="saga", debug=True) == ExitCode.CONFIG
    loud = capsys.readouterr().err
    assert "Traceback (most recent call last)" in loud
    assert "AttributeError" in loud
    assert loud.splitlines()[-1] == captured.err.strip()


def test_an_unexpected_error_is_one_line_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(KeyError("x"), command="relay", debug=False) == ExitCode.FAILED
    assert capsys.readouterr().err == (
        "cqrs relay: unexpected error: KeyError: 'x' (--debug shows the traceback)\n"
    )
