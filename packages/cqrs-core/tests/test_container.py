"""The built-in container: autowiring, lifetimes, scopes, and the errors it explains."""

from __future__ import annotations

import abc
import asyncio
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pytest

import cqrs
from cqrs import BuiltinContainer, ContainerError
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap

BoxT = TypeVar("BoxT")


class Box(Generic[BoxT]):
    """A generic dependency, annotated parametrized (`Box[int]`) but registered bare."""


class UsesIntBox:
    def __init__(self, box: Box[int]) -> None:
        self.box = box


class Clock:
    pass


class Repository:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


class Service:
    def __init__(self, repository: Repository, clock: Clock) -> None:
        self.repository = repository
        self.clock = clock


class Session:
    """Stands for a per-request resource such as a database session."""


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session


class UsesSessionTwice:
    def __init__(self, session: Session, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow


class Store(Protocol):
    def load(self) -> str: ...


class AbstractStore(abc.ABC):
    @abc.abstractmethod
    def load(self) -> str: ...


class MemoryStore(AbstractStore):
    def load(self) -> str:
        return "memory"


class NeedsStore:
    def __init__(self, store: Store) -> None:
        self.store = store


class NeedsAbstractStore:
    def __init__(self, store: AbstractStore) -> None:
        self.store = store


class Unannotated:
    def __init__(self, thing) -> None:  # type: ignore[no-untyped-def]
        self.thing = thing


class Defaults:
    def __init__(  # type: ignore[no-untyped-def]
        self,
        clock: Clock,
        retries=3,
        name: str = "svc",
        ratio: float = 0.5,
        cache: Clock | None = None,
    ) -> None:
        self.clock = clock
        self.retries = retries
        self.name = name
        self.ratio = ratio
        self.cache = cache


class NeedsRequiredStr:
    def __init__(self, name: str) -> None:
        self.name = name


class Chicken:
    def __init__(self, egg: Egg) -> None:
        self.egg = egg


class Egg:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


class Farm:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


@pytest.fixture
def container() -> BuiltinContainer:
    return BuiltinContainer()


class TestAutowiring:
    async def test_builds_the_graph_from_init_hints(self, container: BuiltinContainer) -> None:
        service = await container.resolve(Service)
        assert isinstance(service, Service)
        assert isinstance(service.repository, Repository)
        assert isinstance(service.repository.clock, Clock)
        assert isinstance(service.clock, Clock)

    async def test_satisfies_the_container_protocol(self, container: BuiltinContainer) -> None:
        assert isinstance(container, cqrs.Container)

    async def test_unregistered_classes_are_transient(self, container: BuiltinContainer) -> None:
        service = await container.resolve(Service)
        assert service.clock is not service.repository.clock
        assert await container.resolve(Service) is not service

    def test_get_is_the_synchronous_resolve(self, container: BuiltinContainer) -> None:
        assert isinstance(container.get(Service).repository, Repository)

    def test_defaults_fill_unannotated_and_builtin_params(
        self, container: BuiltinContainer
    ) -> None:
        built = container.get(Defaults)
        assert isinstance(built.clock, Clock)
        assert (built.retries, built.name, built.ratio, built.cache) == (3, "svc", 0.5, None)


class TestLifetimes:
    def test_singleton_is_shared(self, container: BuiltinContainer) -> None:
        container.register(Clock, lifetime="singleton")
        first = container.get(Service)
        second = container.get(Service)
        assert first is not second
        assert first.clock is second.clock is first.repository.clock

    def test_transient_is_new_on_every_use(self, container: BuiltinContainer) -> None:
        container.register(Clock, lifetime="transient")
        service = container.get(Service)
        assert service.clock is not service.repository.clock

    def test_request_is_shared_within_one_resolution(self, container: BuiltinContainer) -> None:
        container.register(Session, lifetime="request")
        built = container.get(UsesSessionTwice)
        assert built.session is built.uow.session
        again = container.get(UsesSessionTwice)
        assert again.session is not built.session

    async def test_request_is_shared_within_a_scope_and_not_across(
        self, container: BuiltinContainer
    ) -> None:
        container.register(Session, lifetime="request")
        with container.scope():
            first = await container.resolve(UnitOfWork)
            second = await container.resolve(UnitOfWork)
            direct = await container.resolve(Session)
        with container.scope():
            other = await container.resolve(UnitOfWork)
        assert first is not second
        assert first.session is second.session is direct
        assert other.session is not first.session

    async def test_scopes_of_concurrent_tasks_are_separate(
        self, container: BuiltinContainer
    ) -> None:
        container.register(Session, lifetime="request")
        both_inside = asyncio.Event()
        entered = 0

        async def in_scope() -> tuple[Session, Session]:
            nonlocal entered
            with container.scope():
                first = await container.resolve(Session)
                entered += 1
                if entered == 2:
                    both_inside.set()
                await both_inside.wait()
                return first, await container.resolve(Session)

        (a1, a2), (b1, b2) = await asyncio.gather(in_scope(), in_scope())
        assert a1 is a2
        assert b1 is b2
        assert a1 is not b1

    def test_register_instance(self, container: BuiltinContainer) -> None:
        clock = Clock()
        container.register_instance(Clock, clock)
        assert container.get(Clock) is clock
        assert container.get(Service).clock is clock
        assert container.get(Repository).clock is clock

    def test_a_parametrized_annotation_resolves_to_its_bare_registration(
        self, container: BuiltinContainer
    ) -> None:
        with pytest.raises(ContainerError, match="Box"):
            container.get(UsesIntBox)
        box: Box[int] = Box()
        container.register_instance(Box, box)
        assert container.get(UsesIntBox).box is box

    def test_registering_again_replaces_a_built_singleton(
        self, container: BuiltinContainer
    ) -> None:
        class OtherClock(Clock):
            pass

        container.register(Clock, lifetime="singleton")
        first = container.get(Clock)
        container.register(Clock, OtherClock, lifetime="singleton")
        assert isinstance(container.get(Clock), OtherClock)
        assert container.get(Clock) is not first

    def test_unknown_lifetime_is_refused(self, container: BuiltinContainer) -> None:
        with pytest.raises(ValueError, match="unknown lifetime 'forever'"):
            container.register(Clock, lifetime="forever")  # type: ignore[call-overload]


class TestProviders:
    def test_interface_bound_to_implementation(self, container: BuiltinContainer) -> None:
        container.register(AbstractStore, MemoryStore)
        built = container.get(NeedsAbstractStore)
        assert isinstance(built.store, MemoryStore)

    def test_protocol_bound_to_implementation(self, container: BuiltinContainer) -> None:
        container.register(Store, MemoryStore)
        assert container.get(NeedsStore).store.load() == "memory"

    def test_instance_under_a_protocol_or_abc_key(self, container: BuiltinContainer) -> None:
        store = MemoryStore()
        container.register_instance(Store, store)
        container.register_instance(AbstractStore, store)
        assert container.get(Store) is store
        assert container.get(NeedsStore).store is store
        assert container.get(NeedsAbstractStore).store is store

    def test_a_generic_key_of_any_provides_every_parametrization(
        self, container: BuiltinContainer
    ) -> None:
        box: Box[Any] = Box()
        container.register_instance(Box[Any], box)
        assert container.get(Box) is box
        assert container.get(Box[Any]) is box
        assert container.get(UsesIntBox).box is box

    def test_a_parametrized_key_provides_only_itself(self, container: BuiltinContainer) -> None:
        box: Box[int] = Box()
        container.register_instance(Box[int], box)
        assert container.get(UsesIntBox).box is box
        with pytest.raises(ContainerError, match="Box"):
            container.get(Box[str])

    def test_factory_receives_its_own_dependencies(self, container: BuiltinContainer) -> None:
        calls: list[Clock] = []

        def make_repository(clock: Clock) -> Repository:
            calls.append(clock)
            return Repository(clock)

        container.register(Clock, lifetime="singleton")
        container.register(Repository, make_repository)
        service = container.get(Service)
        assert calls == [container.get(Clock)]
        assert service.repository.clock is container.get(Clock)

    def test_singleton_factory_runs_once(self, container: BuiltinContainer) -> None:
        calls = 0

        def make_clock() -> Clock:
            nonlocal calls
            calls += 1
            return Clock()

        container.register(Clock, make_clock, lifetime="singleton")
        assert container.get(Service).clock is container.get(Repository).clock
        assert calls == 1


class TestErrors:
    def test_unregistered_protocol_names_the_type_and_who_needed_it(
        self, container: BuiltinContainer
    ) -> None:
        with pytest.raises(ContainerError) as info:
            container.get(NeedsStore)
        message = str(info.value)
        assert "cannot build Store" in message
        assert "needed by NeedsStore" in message
        assert "container.register(Store, Implementation)" in message

    def test_unregistered_abc_names_the_type_and_who_needed_it(
        self, container: BuiltinContainer
    ) -> None:
        with pytest.raises(ContainerError, match=r"AbstractStore \(needed by NeedsAbstractStore\)"):
            container.get(NeedsAbstractStore)

    def test_unregistered_protocol_asked_directly(self, container: BuiltinContainer) -> None:
        with pytest.raises(ContainerError, match=r"cannot build Store: register it"):
            container.get(Store)

    def test_required_builtin_parameter(self, container: BuiltinContainer) -> None:
        with pytest.raises(
            ContainerError, match=r"cannot build str \(needed by NeedsRequiredStr\)"
        ):
            container.get(NeedsRequiredStr)

    def test_missing_annotation_names_the_parameter(self, container: BuiltinContainer) -> None:
        with pytest.raises(ContainerError) as info:
            container.get(Unannotated)
        assert "parameter 'thing' of Unannotated has no type annotation" in str(info.value)

    def test_circular_dependency_shows_the_cycle(self, container: BuiltinContainer) -> None:
        with pytest.raises(ContainerError, match=r"circular dependency: Farm -> Chicken -> Egg"):
            container.get(Farm)
        with pytest.raises(ContainerError, match=r"Chicken -> Egg -> Chicken$"):
            container.get(Chicken)

    def test_is_a_lookup_error(self) -> None:
        assert issubclass(ContainerError, LookupError)
        assert issubclass(ContainerError, cqrs.CQRSError)


class Greeting(cqrs.Request):
    name: str


class Greeted(cqrs.DomainEvent):
    name: str


class Outbox:
    """A singleton dependency shared by a request handler and an event handler."""

    def __init__(self) -> None:
        self.lines: list[str] = []


class Greeter:
    def __init__(self, outbox: Outbox, session: Session) -> None:
        self.outbox = outbox
        self.session = session

    def greet(self, name: str) -> str:
        return f"hello {name}"


class GreetingHandler(cqrs.RequestHandler[Greeting, str]):
    sessions: ClassVar[list[tuple[Session, Session]]] = []

    def __init__(self, greeter: Greeter, session: Session) -> None:
        self.greeter = greeter
        self._events: list[object] = []
        GreetingHandler.sessions.append((session, greeter.session))

    async def handle(self, request: Greeting) -> str:
        self._events.append(Greeted(name=request.name))
        return self.greeter.greet(request.name)


class GreetedHandler(cqrs.EventHandler[Greeted]):
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle(self, event: Greeted) -> None:
        self.outbox.lines.append(f"greeted {event.name}")


async def test_mediator_builds_handlers_with_injected_dependencies(
    container: BuiltinContainer,
) -> None:
    GreetingHandler.sessions.clear()
    outbox = Outbox()
    container.register_instance(Outbox, outbox)
    container.register(Session, lifetime="request")

    def commands(mapper: RequestMap) -> None:
        mapper.bind(Greeting, GreetingHandler)

    def events(mapper: EventMap) -> None:
        mapper.bind(Greeted, GreetedHandler)

    mediator = bootstrap(
        di_container=container, commands_mapper=commands, domain_events_mapper=events
    )
    assert await mediator.send(Greeting(name="ada")) == "hello ada"
    assert await mediator.send(Greeting(name="bob")) == "hello bob"

    assert outbox.lines == ["greeted ada", "greeted bob"]
    (first, first_greeter), (second, second_greeter) = GreetingHandler.sessions
    assert first is first_greeter
    assert second is second_greeter
    assert first is not second


class Recording:
    """A foreign container honouring only the `Container` protocol (async resolve)."""

    def __init__(self) -> None:
        self.inner = BuiltinContainer()
        self.asked: list[type] = []

    async def resolve(self, type_: type[object]) -> object:
        self.asked.append(type_)
        await asyncio.sleep(0)
        return await self.inner.resolve(type_)


async def test_mediator_uses_an_async_only_container() -> None:
    recording = Recording()
    recording.inner.register_instance(Outbox, Outbox())

    def commands(mapper: RequestMap) -> None:
        mapper.bind(Greeting, GreetingHandler)

    def events(mapper: EventMap) -> None:
        mapper.bind(Greeted, GreetedHandler)

    mediator = bootstrap(
        di_container=recording, commands_mapper=commands, domain_events_mapper=events
    )
    assert await mediator.send(Greeting(name="ada")) == "hello ada"
    assert recording.asked == [GreetingHandler, GreetedHandler]
    assert recording.inner.get(Outbox).lines == ["greeted ada"]
