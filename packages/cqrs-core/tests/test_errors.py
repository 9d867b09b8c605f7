"""Mistakes users make get clear errors that name the culprit and the way out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cqrs
from cqrs import HandlerNotBoundError, PluginError, UnknownSchemeError
from cqrs.events.map import EventMap
from cqrs.plugins import (
    adapt_container,
    hookimpl,
    make_message_broker,
    new_plugin_manager,
    set_plugin_manager,
)
from cqrs.requests.map import RequestMap


class CreateUser(cqrs.Request):
    name: str


class DeleteUser(cqrs.Request):
    user_id: int


class Unbound(cqrs.Request):
    pass


class UserCreated(cqrs.DomainEvent):
    name: str


class CreateUserHandler(cqrs.RequestHandler[CreateUser, None]):
    async def handle(self, request: CreateUser) -> None:
        return None


class OtherCreateUserHandler(cqrs.RequestHandler[CreateUser, None]):
    async def handle(self, request: CreateUser) -> None:
        return None


class DeleteUserHandler(cqrs.RequestHandler[DeleteUser, None]):
    async def handle(self, request: DeleteUser) -> None:
        return None


class NotAHandler:
    async def handle(self, request: CreateUser) -> None:
        return None


@pytest.fixture(autouse=True)
def plugin_manager() -> Iterator[cqrs.plugins.PluginManager]:
    """Only the built-in plugin, whatever else the environment has installed."""
    manager = new_plugin_manager(autoload=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


class TestBinding:
    async def test_unbound_request_names_the_type_and_lists_bound_ones(self) -> None:
        def commands(mapper: RequestMap) -> None:
            mapper.bind(DeleteUser, DeleteUserHandler)
            mapper.bind(CreateUser, CreateUserHandler)

        mediator = cqrs.bootstrap.bootstrap(commands_mapper=commands)
        with pytest.raises(HandlerNotBoundError) as info:
            await mediator.send(Unbound())
        message = str(info.value)
        assert f"no handler is bound for {__name__}.Unbound" in message
        assert "bound request types: CreateUser, DeleteUser" in message
        assert isinstance(info.value, LookupError)

    async def test_unbound_request_with_an_empty_map(self) -> None:
        mediator = cqrs.bootstrap.bootstrap()
        with pytest.raises(HandlerNotBoundError, match="bound request types: nothing"):
            await mediator.send(Unbound())

    async def test_unbound_streaming_request(self) -> None:
        mediator = cqrs.bootstrap.bootstrap_streaming()
        with pytest.raises(HandlerNotBoundError, match=r"no handler is bound for .*Unbound"):
            async for _ in mediator.stream(Unbound()):
                pass

    def test_binding_a_request_twice(self) -> None:
        requests = RequestMap()
        requests.bind(CreateUser, CreateUserHandler)
        with pytest.raises(KeyError, match="CreateUser is already bound to CreateUserHandler"):
            requests.bind(CreateUser, OtherCreateUserHandler)
        assert requests.get(CreateUser) is CreateUserHandler

    def test_binding_a_request_to_a_non_handler(self) -> None:
        requests = RequestMap()
        with pytest.raises(TypeError) as info:
            requests.bind(CreateUser, NotAHandler)  # type: ignore[arg-type]
        assert "cannot bind CreateUser to" in str(info.value)
        assert "NotAHandler" in str(info.value)
        assert "expected a RequestHandler or StreamingRequestHandler subclass" in str(info.value)
        assert CreateUser not in requests

    def test_binding_a_request_to_a_handler_instance(self) -> None:
        with pytest.raises(TypeError, match="cannot bind CreateUser"):
            RequestMap().bind(CreateUser, CreateUserHandler())  # type: ignore[arg-type]

    def test_binding_an_event_to_a_non_handler(self) -> None:
        with pytest.raises(TypeError, match=r"bind UserCreated to .*expected an EventHandler"):
            EventMap().bind(UserCreated, NotAHandler)  # type: ignore[arg-type]

    def test_binding_an_event_handler_twice_is_harmless(self) -> None:
        class OnCreated(cqrs.EventHandler[UserCreated]):
            async def handle(self, event: UserCreated) -> None:
                return None

        events = EventMap()
        events.bind(UserCreated, OnCreated)
        events.bind(UserCreated, OnCreated)
        assert events.get(UserCreated) == (OnCreated,)

    def test_concurrency_limit_below_one(self) -> None:
        with pytest.raises(ValueError, match="max_concurrent_event_handlers must be at least 1"):
            cqrs.bootstrap.bootstrap(max_concurrent_event_handlers=0)


class TestUrls:
    def test_unknown_scheme_lists_installed_schemes(self) -> None:
        with pytest.raises(UnknownSchemeError) as info:
            cqrs.bootstrap.bootstrap(message_broker="nats://localhost:4222")
        message = str(info.value)
        assert "no installed plugin provides a message broker for nats://" in message
        assert "Installed schemes: " in message
        assert "devnull:// (cqrs-core)" in message
        assert "memory:// (cqrs-core)" in message
        assert "pip install" not in message
        assert isinstance(info.value, PluginError)
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize(
        ("url", "distribution"),
        [
            ("kafka://localhost:9092", "cqrs-kafka"),
            ("amqp://guest:guest@localhost/", "cqrs-rabbitmq"),
        ],
    )
    def test_known_adapter_scheme_names_the_distribution(self, url: str, distribution: str) -> None:
        with pytest.raises(UnknownSchemeError, match=f"pip install {distribution}$"):
            make_message_broker(url)

    def test_password_is_redacted_in_the_error(self) -> None:
        with pytest.raises(UnknownSchemeError) as info:
            make_message_broker("amqp://guest:s3cret@localhost:5672/vhost")
        assert "s3cret" not in str(info.value)
        assert "amqp://guest:***@localhost:5672/vhost" in str(info.value)

    def test_schemes_of_in_process_plugins_are_listed(
        self, plugin_manager: cqrs.plugins.PluginManager
    ) -> None:
        class NatsPlugin:
            @hookimpl
            def cqrs_list_schemes(self) -> dict[str, list[str]]:
                return {"message_broker": ["nats-test"]}

        plugin_manager.register(NatsPlugin(), name="nats-test-plugin")
        with pytest.raises(UnknownSchemeError, match=r"nats-test:// \(nats-test-plugin\)"):
            make_message_broker("zmq://x")

    @pytest.mark.parametrize("url", ["localhost:9092", "://host", ""])
    def test_not_a_url(self, url: str) -> None:
        with pytest.raises(ValueError, match="not a URL"):
            make_message_broker(url)


class TestForeignContainers:
    def test_known_foreign_container_names_its_adapter_distribution(self) -> None:
        class DeclarativeContainer:
            pass

        DeclarativeContainer.__module__ = "dependency_injector.containers"
        with pytest.raises(PluginError) as info:
            cqrs.bootstrap.bootstrap(di_container=DeclarativeContainer())
        message = str(info.value)
        assert "dependency_injector.containers" in message
        assert "is not a cqrs Container" in message
        assert "pip install cqrs-dependency-injector" in message

    def test_unknown_foreign_container(self) -> None:
        class Registry:
            def get(self, type_: type) -> object:
                return type_()

        with pytest.raises(PluginError, match=r"Registry is not a cqrs Container") as info:
            adapt_container(Registry())
        assert "pip install" not in str(info.value)

    def test_plugin_adapts_a_foreign_container(
        self, plugin_manager: cqrs.plugins.PluginManager
    ) -> None:
        class Registry:
            def get(self, type_: type) -> object:
                return type_()

        class Adapted:
            def __init__(self, registry: Registry) -> None:
                self.registry = registry

            async def resolve(self, type_: type) -> object:
                return self.registry.get(type_)

        class AdapterPlugin:
            @hookimpl
            def cqrs_adapt_container(self, container: object) -> Adapted | None:
                return Adapted(container) if isinstance(container, Registry) else None

        plugin_manager.register(AdapterPlugin(), name="registry-adapter")
        registry = Registry()
        adapted = adapt_container(registry)
        assert isinstance(adapted, Adapted)
        assert adapted.registry is registry

    def test_a_container_is_used_as_is(self) -> None:
        container = cqrs.BuiltinContainer()
        assert adapt_container(container) is container
