import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderPlaced(_message.Message):
    __slots__ = ("event_id", "timestamp", "order_id", "lines", "total_cents", "tags")
    class Line(_message.Message):
        __slots__ = ("sku", "quantity")
        SKU_FIELD_NUMBER: _ClassVar[int]
        QUANTITY_FIELD_NUMBER: _ClassVar[int]
        sku: str
        quantity: int
        def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CENTS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    timestamp: _timestamp_pb2.Timestamp
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderPlaced.Line]
    total_cents: int
    tags: _containers.ScalarMap[str, str]
    def __init__(self, event_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderPlaced.Line, _Mapping]]] = ..., total_cents: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("event_id", "order_id", "reason", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    order_id: str
    reason: str
    timestamp: str
    def __init__(self, event_id: _Optional[str] = ..., order_id: _Optional[str] = ..., reason: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...
