"""`cqrs diagram module:object [--kind sequence|class]` prints what `SagaMermaid` and
`CoRMermaid` generate, for a saga, a handler chain, a map or a mapper function; a reference that
does not load, or names nothing drawable, is one line on stderr and exit code 3."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from cqrs._cli_support import ExitCode
from cqrs.cli import main
from cqrs.requests.mermaid import CoRMermaid
from cqrs.saga.mermaid import SagaMermaid

APP = """
import dataclasses

import cqrs
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult


@dataclasses.dataclass
class ShipContext(SagaContext):
    order_id: str


class Packed(cqrs.Response):
    parcel: str


class PackStep(SagaStepHandler[ShipContext, Packed]):
    async def act(self, context: ShipContext) -> SagaStepResult[ShipContext, Packed]:
        return self._generate_step_result(Packed(parcel="p"))

    async def compensate(self, context: ShipContext) -> None:
        pass


class ShipSaga(Saga[ShipContext]):
    steps = [PackStep]


class Quote(cqrs.Request):
    amount: int


class Price(cqrs.Response):
    total: int


class CheapHandler(cqrs.CORRequestHandler[Quote, Price]):
    async def handle(self, request: Quote) -> Price | None:
        return await self.next(request)


class DefaultHandler(cqrs.CORRequestHandler[Quote, Price]):
    async def handle(self, request: Quote) -> Price | None:
        return Price(total=request.amount)


class Ping(cqrs.Request):
    pass


class PingHandler(cqrs.RequestHandler[Ping, None]):
    async def handle(self, request: Ping) -> None:
        pass


chain = [CheapHandler, DefaultHandler]


def quotes_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(Ping, PingHandler)
    mapper.bind(Quote, chain)


def sagas_mapper(mapper) -> None:
    mapper.bind(ShipContext, ShipSaga)


def only_plain(mapper: cqrs.RequestMap) -> None:
    mapper.bind(Ping, PingHandler)


def exploding(mapper) -> None:
    raise RuntimeError("no map for you")


number = 42
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module `diagram_app` on `sys.path`, forgotten after the test."""
    (tmp_path / "diagram_app.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    import diagram_app  # type: ignore[import-not-found]

    yield diagram_app
    sys.modules.pop("diagram_app", None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diagram", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("reference", ["diagram_app:ShipSaga", "diagram_app:ShipSaga()"])
def test_a_saga_prints_its_sequence_diagram_by_default(
    app: ModuleType, reference: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if reference.endswith("()"):
        app.ship_saga = app.ShipSaga()
        reference = "diagram_app:ship_saga"
    code, out, err = run(capsys, reference)
    assert (code, err) == (0, "")
    assert out == SagaMermaid(app.ShipSaga).sequence()


def test_a_saga_class_diagram(app: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diagram_app:ShipSaga", "--kind", "class")
    assert code == 0
    assert out == SagaMermaid(app.ShipSaga).class_diagram()


@pytest.mark.parametrize("kind", ["sequence", "class"])
def test_a_handler_chain_prints_both_kinds(
    app: ModuleType, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "diagram_app:chain", "--kind", kind)
    generator = CoRMermaid(app.chain)
    assert code == 0
    assert out == (generator.sequence() if kind == "sequence" else generator.class_diagram())


def test_a_request_mapper_draws_its_chains_and_skips_plain_handlers(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "diagram_app:quotes_mapper")
    assert code == 0
    assert out == "%% Quote\n" + CoRMermaid(app.chain).sequence()


def test_a_filled_map_and_a_saga_mapper(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    import cqrs
    from cqrs.saga.map import SagaMap

    app.requests = cqrs.RequestMap()
    app.quotes_mapper(app.requests)
    app.sagas = SagaMap()
    app.sagas_mapper(app.sagas)
    saga_class = SagaMermaid(app.ShipSaga).class_diagram()
    assert run(capsys, "diagram_app:sagas_mapper", "--kind", "class")[1] == (
        "%% ShipContext\n" + saga_class
    )
    assert run(capsys, "diagram_app:sagas", "--kind", "class")[1] == "%% ShipContext\n" + saga_class
    assert run(capsys, "diagram_app:requests")[1] == "%% Quote\n" + CoRMermaid(app.chain).sequence()


def test_several_bindings_print_one_headed_diagram_each(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    def both(mapper: object) -> None:
        app.quotes_mapper(mapper)
        app.sagas_mapper(mapper)

    app.both = both
    code, out, _ = run(capsys, "diagram_app:both")
    assert code == 0
    assert out == (
        f"%% Quote\n{CoRMermaid(app.chain).sequence()}\n"
        f"%% ShipContext\n{SagaMermaid(app.ShipSaga).sequence()}"
    )


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "diagram_app:missing",
            "cqrs diagram: reference 'diagram_app:missing': diagram_app has no attribute 'missing'",
        ),
        (
            "diagram_app_nowhere:OrderSaga",
            "cqrs diagram: reference 'diagram_app_nowhere:OrderSaga': no module named "
            "'diagram_app_nowhere' (is it installed?)",
        ),
        (
            "diagram_app",
            "cqrs diagram: reference 'diagram_app': expected module:attribute, "
            "e.g. myapp.sagas:init",
        ),
        (
            "diagram_app:number",
            "cqrs diagram: reference 'diagram_app:number': expected a Saga, a list of "
            "CORRequestHandler classes, a RequestMap or SagaMap, or a function filling one; "
            "got int 42",
        ),
        (
            "diagram_app:Quote",
            "cqrs diagram: reference 'diagram_app:Quote': expected a Saga, a list of "
            "CORRequestHandler classes, a RequestMap or SagaMap, or a function filling one; "
            "got the class Quote",
        ),
        (
            "diagram_app:only_plain",
            "cqrs diagram: reference 'diagram_app:only_plain': binds no saga and no handler "
            "chain to draw",
        ),
        (
            "diagram_app:exploding",
            "cqrs diagram: reference 'diagram_app:exploding': calling it with a map failed: "
            "RuntimeError: no map for you",
        ),
    ],
)
def test_a_bad_reference_is_one_line_and_exit_code_3(
    app: ModuleType, reference: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, reference)
    assert code == ExitCode.CONFIG
    assert out == ""
    assert err == message + "\n"


def test_an_unknown_kind_is_a_usage_error(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["diagram", "diagram_app:ShipSaga", "--kind", "state"])
    assert info.value.code == ExitCode.USAGE
    assert "invalid choice: 'state'" in capsys.readouterr().err
