"""Import hygiene and packaging of cqrs-core: cheap to import, complete exports, lean wheel."""

from __future__ import annotations

import email.parser
import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import cqrs
from cqrs import _compat

ROOT = Path(__file__).resolve().parents[1]
HAS_PYDANTIC = importlib.util.find_spec("pydantic") is not None
ADAPTER_SHIMS = frozenset(_compat.SEED_PATHS) | {
    path for path, row in _compat.PYCQRS4_PATHS.items() if isinstance(row, _compat.Unsupported)
}
"""Seed paths that resolve only when their adapter distribution is installed, and python-cqrs
4.x paths whose import explains that they have no counterpart."""

PYDANTIC_NAMES = frozenset(name for name in cqrs.__all__ if name.startswith("Pydantic"))
ALLOWED_REQUIREMENTS = {"pluggy", "typing-extensions"}


def _modules_after(code: str) -> set[str]:
    """The names in `sys.modules` of a fresh interpreter after running `code`."""
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CQRS_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=30,
    )
    return set(done.stdout.split())


IMPORTS = {
    "import": "import cqrs",
    "core-names": "import cqrs\ncqrs.Request; cqrs.RequestHandler; cqrs.bootstrap",
    "bootstrap-without-url": (
        "import cqrs\n"
        "cqrs.bootstrap.bootstrap(message_broker=cqrs.MemoryMessageBroker())\n"
        "cqrs.bootstrap.bootstrap_events()\n"
    ),
}


@pytest.mark.parametrize("code", IMPORTS.values(), ids=IMPORTS.keys())
def test_fresh_import_loads_only_the_stdlib(code: str) -> None:
    # What site's .pth files load before any code runs (setuptools' _distutils_hack) is not ours.
    loaded = _modules_after(code) - _modules_after("pass")
    foreign = sorted(
        name
        for name in loaded
        if name.partition(".")[0] not in sys.stdlib_module_names | {"cqrs", "__main__"}
    )
    assert foreign == [], "import cqrs pulled in modules from outside the stdlib"
    assert "pluggy" not in loaded
    assert "typing_extensions" not in loaded
    assert "importlib.metadata" not in loaded
    assert "cqrs.plugins.manager" not in loaded
    assert "cqrs._compat" not in loaded
    assert not [name for name in loaded if name.startswith("cqrs_")]


def test_the_testing_kit_leaves_the_ci_support_unloaded() -> None:
    """The contract suites third parties subclass do not depend on the project's CI support."""
    loaded = _modules_after("import cqrs.testing")
    assert "cqrs.testing" in loaded
    assert not [name for name in loaded if name.startswith("cqrs.testing._support")]


def test_url_bootstrap_is_what_loads_plugins() -> None:
    """The check above would pass vacuously if plugins were never loadable at all."""
    loaded = _modules_after("import cqrs\ncqrs.bootstrap.bootstrap(message_broker='fake://x')")
    assert {"pluggy", "importlib.metadata", "cqrs_fake._plugin"} <= loaded


@pytest.mark.parametrize("name", cqrs.__all__)
def test_every_top_level_name_resolves(name: str) -> None:
    if name in PYDANTIC_NAMES and not HAS_PYDANTIC:
        pytest.skip("pydantic is an optional extra and is not installed")
    assert getattr(cqrs, name) is not None


def _public_modules() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(cqrs.__path__, "cqrs.", onerror=importlib.import_module):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or info.name in ADAPTER_SHIMS:
            continue
        if info.name == "cqrs.pydantic_models" and not HAS_PYDANTIC:
            continue
        found.append(info.name)
    return sorted(found)


PUBLIC_MODULES = _public_modules()


def test_the_module_walk_finds_the_package_tree() -> None:
    assert {"cqrs.plugins.hookspecs", "cqrs.testing.message_broker", "cqrs.memory"} <= set(
        PUBLIC_MODULES
    )


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_declares_a_resolvable_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it does not define"


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        ["uv", "build", "--wheel", str(ROOT / "packages" / "cqrs-core"), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable},
        timeout=300,
    )
    (wheel,) = out.glob("cqrs_core-*.whl")
    return wheel


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def test_core_wheel_requires_only_pluggy_and_typing_extensions(core_wheel: Path) -> None:
    with zipfile.ZipFile(core_wheel) as archive:
        (metadata_path,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_path).decode())
    requires = metadata.get_all("Requires-Dist") or []
    unconditional = {
        _requirement_name(r)
        for r in requires
        if not re.search(r"\bextra\s*==", r.partition(";")[2])
    }
    assert "pluggy" in unconditional
    assert unconditional <= ALLOWED_REQUIREMENTS, f"core requires {sorted(unconditional)}"


def test_core_wheel_ships_typing_marker_and_no_plugin_package(core_wheel: Path) -> None:
    with zipfile.ZipFile(core_wheel) as archive:
        names = archive.namelist()
    assert "cqrs/py.typed" in names
    assert "cqrs/__init__.py" in names
    assert not [n for n in names if n.startswith("cqrs_") and ".dist-info/" not in n]


ERROR_MIXINS = frozenset({"PublicError"})
"""Names in `cqrs.errors` that are not errors of the framework: `PublicError` marks the
application's own errors, which must not become `CQRSError`s."""

SIMULATED_FAILURES = frozenset({"SimulatedCrash", "StepFailed", "CompensationFailed"})
"""The crash-test kit's stand-ins for a dying process and failing user steps: not framework
errors, so they stay with the kit (`SimulatedCrash` is a BaseException so nothing handles it)."""


def _exported_exceptions(module_name: str) -> dict[str, type[BaseException]]:
    module = importlib.import_module(module_name)
    found = {}
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            found[name] = value
    return found


def test_every_error_derives_from_cqrs_error() -> None:
    errors = _exported_exceptions("cqrs.errors")
    assert {"CQRSError", "SagaCompensationError", "SagaLeaseLostError"} <= set(errors)
    strays = [
        name
        for name, error in errors.items()
        if name not in ERROR_MIXINS and not issubclass(error, cqrs.CQRSError)
    ]
    assert strays == []
    assert not issubclass(cqrs.PublicError, cqrs.CQRSError)


@pytest.mark.parametrize("module_name", ["cqrs", *PUBLIC_MODULES])
def test_public_errors_are_defined_in_cqrs_errors(module_name: str) -> None:
    elsewhere = [
        f"{name} ({error.__module__})"
        for name, error in _exported_exceptions(module_name).items()
        if error.__module__ != "cqrs.errors"
        and not (error.__module__.startswith("cqrs.testing.") and name in SIMULATED_FAILURES)
    ]
    assert elsewhere == [], f"{module_name} exports exceptions defined outside cqrs.errors"


def _adapter_modules() -> list[str]:
    found = []
    for source in sorted((ROOT / "packages").glob("*/src/cqrs_*")):
        package = importlib.import_module(source.name)
        found.append(source.name)
        for info in pkgutil.walk_packages(package.__path__, f"{source.name}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                found.append(info.name)
    return found


ADAPTER_MODULES = _adapter_modules()


def test_the_adapter_walk_finds_adapter_errors() -> None:
    assert "KafkaDeliveryError" in _exported_exceptions("cqrs_kafka.broker")


@pytest.mark.parametrize("module_name", ADAPTER_MODULES)
def test_adapter_errors_derive_from_a_core_error(module_name: str) -> None:
    strays = [
        name
        for name, error in _exported_exceptions(module_name).items()
        if not issubclass(error, cqrs.CQRSError)
    ]
    assert strays == [], f"{module_name} exports errors that are not cqrs.CQRSError"
