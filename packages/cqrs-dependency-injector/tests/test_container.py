"""dependency-injector containers through bootstrap: adapted explicitly, or raw via the plugin."""

from __future__ import annotations

import subprocess
import sys
from typing import Protocol

import pytest
from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.requests import bootstrap
from cqrs_dependency_injector import ProviderNotFoundError


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str, meeting_id: int) -> None: ...


class MeetingAPI:
    def __init__(self) -> None:
        self.joined: list[tuple[str, int]] = []

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        self.joined.append((user_id, meeting_id))


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)


API = MeetingAPI()


class ApplicationContainer(containers.DeclarativeContainer):
    service = providers.Object(API)
    meetings_api = providers.Singleton(MeetingAPI)


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


@pytest.mark.parametrize("wrap", [True, False], ids=["adapter", "raw-container"])
async def test_handlers_get_their_dependencies_from_the_container(wrap: bool) -> None:
    container = ApplicationContainer()
    di_container = DependencyInjectorCQRSContainer(container) if wrap else container
    mediator = bootstrap.bootstrap(di_container=di_container, commands_mapper=commands_mapper)
    await mediator.send(JoinMeetingCommand(user_id="u1", meeting_id=7))
    await mediator.send(JoinMeetingCommand(user_id="u2", meeting_id=7))
    assert container.meetings_api().joined == [("u1", 7), ("u2", 7)]


async def test_resolves_by_provided_type_and_builds_unregistered_classes() -> None:
    adapter = DependencyInjectorCQRSContainer(ApplicationContainer())
    assert isinstance(await adapter.resolve(MeetingAPI), MeetingAPI)
    handler = await adapter.resolve(JoinMeetingCommandHandler)
    assert isinstance(handler, JoinMeetingCommandHandler)
    assert isinstance(adapter, cqrs.Container)


def test_the_plugin_module_does_not_import_dependency_injector() -> None:
    code = (
        "import sys, cqrs_dependency_injector._plugin, cqrs_dependency_injector;"
        "print('dependency_injector' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_type_it_cannot_build_is_refused_with_python_cqrs_4x_error() -> None:
    adapter = DependencyInjectorCQRSContainer(ApplicationContainer())
    with pytest.raises(ProviderNotFoundError, match="Provider for type MeetingAPIProtocol"):
        await adapter.resolve(MeetingAPIProtocol)  # type: ignore[type-abstract]
    strict = DependencyInjectorCQRSContainer(ApplicationContainer(), autowire=False)
    with pytest.raises(ValueError, match="Provider for type JoinMeetingCommandHandler"):
        await strict.resolve(JoinMeetingCommandHandler)
    assert isinstance(await strict.resolve(MeetingAPI), MeetingAPI)
