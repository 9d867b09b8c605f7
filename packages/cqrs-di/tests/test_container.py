"""`di` containers through bootstrap: the seeds' `setup_di()` shape, adapted by the plugin."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar, Protocol

import di
from di.dependent import Dependent

import cqrs
from cqrs.container.di import DIContainer
from cqrs.requests import bootstrap

CREATED: list[object] = []


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str) -> None: ...


class MeetingAPIImplementaion:
    joined: ClassVar[list[str]] = []

    def __init__(self) -> None:
        CREATED.append(self)

    async def join_user(self, user_id: str) -> None:
        MeetingAPIImplementaion.joined.append(user_id)


class Audit:
    def __init__(self, api: MeetingAPIProtocol) -> None:
        self.api = api


class JoinMeetingCommand(cqrs.Request):
    user_id: str


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol, audit: Audit) -> None:
        self._meetings_api = meetings_api
        self.audit = audit

    async def handle(self, request: JoinMeetingCommand) -> None:
        assert self.audit.api is self._meetings_api, "request scope shares the instance"
        await self._meetings_api.join_user(request.user_id)


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(Dependent(MeetingAPIImplementaion, scope="request"), MeetingAPIProtocol)
    )
    return container


async def test_the_raw_di_container_works_with_bootstrap() -> None:
    CREATED.clear()
    MeetingAPIImplementaion.joined.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
    )
    await mediator.send(JoinMeetingCommand(user_id="u1"))
    await mediator.send(JoinMeetingCommand(user_id="u2"))
    assert MeetingAPIImplementaion.joined == ["u1", "u2"]
    assert len(CREATED) == 2, "one instance per request"


async def test_the_adapter_resolves_protocol_bindings() -> None:
    container = DIContainer(setup_di())
    assert isinstance(container, cqrs.Container)
    api = await container.resolve(MeetingAPIProtocol)  # type: ignore[type-abstract]
    assert isinstance(api, MeetingAPIImplementaion)


def test_the_plugin_module_does_not_import_di() -> None:
    code = "import sys, cqrs_di._plugin, cqrs_di; print('di' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
