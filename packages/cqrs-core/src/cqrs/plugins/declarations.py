"""What a plugin declares about a URL scheme: its role, its name and the factory building it.

Each scheme is declared once, by the plugin that owns it, through the `cqrs_declare_schemes`
hook; the factories (`make_message_broker`, ...), `cqrs plugins`, the install hints and the docs
all read these declarations::

    from cqrs.plugins import MESSAGE_BROKER, SchemeDeclaration

    memory = SchemeDeclaration(
        MESSAGE_BROKER,
        "memory",
        "cqrs.memory._from_url:message_broker",
        "in-process broker",
    )
    assert memory.build("memory://").__class__.__name__ == "MemoryMessageBroker"
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CONSUMER_TRANSPORT",
    "INBOX",
    "MESSAGE_BROKER",
    "OUTBOX",
    "SAGA_STORAGE",
    "Factory",
    "SchemeDeclaration",
    "load_factory",
]

MESSAGE_BROKER: Final = "message_broker"
"""Role of the schemes that build a `MessageBroker` (`make_message_broker`)."""
OUTBOX: Final = "outbox"
"""Role of the schemes that build an `OutboxedEventRepository` (`make_outbox_repository`)."""
INBOX: Final = "inbox"
"""Role of the schemes that build an `Inbox` (`make_inbox`; `cqrs consume --inbox`)."""
SAGA_STORAGE: Final = "saga_storage"
"""Role of the schemes that build a `SagaStorage` (`make_saga_storage`)."""
CONSUMER_TRANSPORT: Final = "consumer_transport"
"""Role of the schemes that build a `ConsumerTransport` (`make_consumer_transport`); the
factory reads the topics and the group from the URL's `topics=` and `group=` parameters."""

Factory = str | Callable[[str], Any]
"""A `"module:attribute"` reference, imported on first use, or a callable taking the URL."""

_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")
_ROLE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SchemeDeclaration:
    """A plugin's claim that it builds the `role` (`"message_broker"`, ...) for `scheme://` URLs.

    The role set is open: a role is any lower-case identifier, and core's `make_from_url(role,
    url)` builds whatever role a plugin declares. `factory` is called with the whole URL.
    """

    role: str
    scheme: str
    factory: Factory
    description: str = ""

    def __post_init__(self) -> None:
        if not _ROLE.fullmatch(self.role):
            raise ValueError(f"invalid role {self.role!r}: expected a lower-case identifier")
        if not _SCHEME.fullmatch(self.scheme):
            raise ValueError(
                f"invalid URL scheme {self.scheme!r}: expected lower-case letters, digits, +.- "
                "starting with a letter, without ://"
            )
        if isinstance(self.factory, str):
            module, sep, attribute = self.factory.partition(":")
            if not module or not sep or not attribute:
                raise ValueError(
                    f"invalid factory {self.factory!r} for {self.scheme}://: expected "
                    "'module:attribute' or a callable"
                )
        elif not callable(self.factory):
            raise TypeError(f"factory of {self.scheme}:// must be a string or a callable")

    def build(self, url: str) -> Any:
        """Import the factory if it is a reference, and call it with `url`."""
        return load_factory(self.factory)(url)


def load_factory(factory: Factory) -> Callable[[str], Any]:
    """The callable `factory` names: itself, or the attribute (dotted) of the module it names.

    An `ImportError` of the module or of its library propagates, so the caller can name the
    missing driver.
    """
    if not isinstance(factory, str):
        return factory
    module_name, _, attribute = factory.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    if not callable(value):
        raise TypeError(f"factory {factory!r} is not callable")
    return value  # type: ignore[no-any-return]
