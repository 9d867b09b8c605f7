"""DI containers as python-cqrs 4.x code uses them, written from 4.x's docstrings.

4.x's `DependencyInjectorCQRSContainer` is built empty and attached to a container, resolves a
type by its provider (exact class, a subclass for an interface, a factory function's return
annotation, inside nested containers) and raises `ValueError("Provider for type X not found.
...")` for a type no provider gives. Ours also builds unregistered concrete classes (handlers)
unless `autowire=False`; protocols, abstract classes and builtins always raise that error.
"""

from __future__ import annotations

import abc
from typing import Protocol

import di
import pytest
from dependency_injector import containers, providers
from di import dependent

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.requests import bootstrap

_NOT_FOUND = (
    "Provider for type {} not found. "
    "Ensure the type is registered in the dependency-injector container."
)


class Database:
    pass


class IUserRepository(abc.ABC):
    @abc.abstractmethod
    def find(self, user_id: str) -> str: ...


class UserRepository(IUserRepository):
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, user_id: str) -> str:
        return f"user {user_id}"


class EmailService:
    def __init__(self) -> None:
        self.sent: list[str] = []


class Clock:
    pass


def make_clock() -> Clock:
    return Clock()


async def make_email_service() -> EmailService:
    return EmailService()


class NotificationContainer(containers.DeclarativeContainer):
    email_service = providers.Singleton(EmailService)


class Container(containers.DeclarativeContainer):
    database = providers.Singleton(Database)
    user_repository = providers.Factory(UserRepository, db=database)
    clock = providers.Factory(make_clock)
    notifications = providers.Container(NotificationContainer)


class Unregistered:
    pass


class Greeter(Protocol):
    def greet(self) -> str: ...


@pytest.fixture
def container() -> DependencyInjectorCQRSContainer:
    cqrs_container = DependencyInjectorCQRSContainer()
    cqrs_container.attach_external_container(Container())
    return cqrs_container


async def test_resolves_the_exact_type_with_the_providers_lifetime(
    container: DependencyInjectorCQRSContainer,
) -> None:
    first = await container.resolve(UserRepository)
    second = await container.resolve(UserRepository)
    assert isinstance(first, UserRepository)
    assert first is not second, "a Factory gives a new instance each time"
    assert first.db is second.db, "a Singleton gives the same one"


async def test_resolves_an_interface_to_the_provider_of_its_implementation(
    container: DependencyInjectorCQRSContainer,
) -> None:
    repository = await container.resolve(IUserRepository)  # type: ignore[type-abstract]
    assert repository.find("7") == "user 7"


async def test_resolves_from_nested_containers_and_factory_function_return_types(
    container: DependencyInjectorCQRSContainer,
) -> None:
    email = await container.resolve(EmailService)
    assert email is await container.resolve(EmailService)
    assert isinstance(await container.resolve(Clock), Clock)


async def test_an_async_provider_is_awaited() -> None:
    class AsyncContainer(containers.DeclarativeContainer):
        email_service = providers.Coroutine(make_email_service)

    cqrs_container = DependencyInjectorCQRSContainer()
    cqrs_container.attach_external_container(AsyncContainer())
    assert isinstance(await cqrs_container.resolve(EmailService), EmailService)


async def test_overriding_a_provider_changes_what_is_resolved(
    container: DependencyInjectorCQRSContainer,
) -> None:
    class FakeRepository(UserRepository):
        def find(self, user_id: str) -> str:
            return "fake"

    external = container.external_container
    with external.user_repository.override(providers.Factory(FakeRepository, db=Database())):
        assert (await container.resolve(UserRepository)).find("1") == "fake"
    assert (await container.resolve(UserRepository)).find("1") == "user 1"


def test_the_external_container_before_one_is_attached_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="External container not attached"):
        _ = DependencyInjectorCQRSContainer().external_container


async def test_attaching_again_forgets_the_previous_providers(
    container: DependencyInjectorCQRSContainer,
) -> None:
    class Other(containers.DeclarativeContainer):
        database = providers.Singleton(Database)

    await container.resolve(IUserRepository)  # type: ignore[type-abstract]
    container.attach_external_container(Other())
    with pytest.raises(ValueError, match="Provider for type IUserRepository not found"):
        await container.resolve(IUserRepository)  # type: ignore[type-abstract]


@pytest.mark.parametrize("type_", [IUserRepository, Greeter, int], ids=["abc", "protocol", "int"])
async def test_a_type_no_provider_gives_and_that_cannot_be_built_is_4x_value_error(
    container: DependencyInjectorCQRSContainer, type_: type
) -> None:
    bare = DependencyInjectorCQRSContainer()
    bare.attach_external_container(NotificationContainer())
    with pytest.raises(ValueError) as raised:
        await bare.resolve(type_)
    assert str(raised.value) == _NOT_FOUND.format(type_.__name__)
    assert isinstance(raised.value, cqrs.ContainerError)


async def test_without_autowire_every_type_without_a_provider_is_refused_as_in_4x() -> None:
    strict = DependencyInjectorCQRSContainer(Container(), autowire=False)
    with pytest.raises(ValueError) as raised:
        await strict.resolve(Unregistered)
    assert str(raised.value) == _NOT_FOUND.format("Unregistered")
    assert isinstance(await strict.resolve(Database), Database)


async def test_with_autowire_an_unregistered_concrete_class_is_built(
    container: DependencyInjectorCQRSContainer,
) -> None:
    assert isinstance(await container.resolve(Unregistered), Unregistered)


class Ping(cqrs.Request):
    user_id: str


class Pong(cqrs.Response):
    text: str


class PingHandler(cqrs.RequestHandler[Ping, Pong]):
    def __init__(self, repository: IUserRepository) -> None:
        self._repository = repository

    async def handle(self, request: Ping) -> Pong:
        return Pong(text=self._repository.find(request.user_id))


async def test_a_4x_application_registers_its_handlers_as_providers() -> None:
    """4.x resolves handlers through the container too, so its applications declare them."""

    class Application(Container):
        ping_handler = providers.Factory(PingHandler, repository=Container.user_repository)

    cqrs_container = DependencyInjectorCQRSContainer(autowire=False)
    cqrs_container.attach_external_container(Application())
    mediator = bootstrap.bootstrap(
        di_container=cqrs_container, queries_mapper=lambda m: m.bind(Ping, PingHandler)
    )
    assert await mediator.send(Ping(user_id="3")) == Pong(text="user 3")


async def test_the_di_container_as_in_4x() -> None:
    """4.x's `DIContainer` is attached to a `di.Container` and resolves in a request scope."""
    from cqrs.container.di import DIContainer

    external = di.Container()
    external.bind(
        di.bind_by_type(dependent.Dependent(UserRepository, scope="request"), IUserRepository)
    )
    container = DIContainer()
    container.attach_external_container(external)
    assert container.external_container is external
    mediator = bootstrap.bootstrap(
        di_container=container, queries_mapper=lambda m: m.bind(Ping, PingHandler)
    )
    assert await mediator.send(Ping(user_id="4")) == Pong(text="user 4")


def test_the_type_variable_of_the_container_modules() -> None:
    from cqrs.container.dependency_injector import T as DependencyInjectorT
    from cqrs.container.di import T as DIT
    from cqrs.container.protocol import T

    assert DependencyInjectorT is DIT is T
