"""`RedisSagaStorage`: saga state and step log in Redis, one Lua script per transition.

Keys under `prefix` (default `cqrs:saga`): a hash per saga, a list per saga for the step log
and a sorted set of unfinished sagas by last update, for recovery. Example::

    storage = RedisSagaStorage.from_url("redis://localhost:6379/0")
    mediator = cqrs.saga.bootstrap.bootstrap(sagas_mapper=..., saga_storage=storage)
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.storage.protocol import SagaConcurrencyError

__all__ = ["RedisSagaStorage"]

_LEASE_FREE = """
local owner = redis.call('HGET', KEYS[1], 'lease_owner')
local expiry = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
local free = (not owner) or owner == '' or owner == ARGV[2] or expiry <= tonumber(ARGV[3])
"""

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'saga_name', ARGV[1], 'status', 'running', 'context', ARGV[2],
  'version', 1, 'created_at', ARGV[3], 'updated_at', ARGV[3], 'lease_owner', ARGV[4],
  'lease_until', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[7])
return 1
"""

_TRANSITION = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local version = tonumber(redis.call('HGET', KEYS[1], 'version'))
"""
    + _LEASE_FREE
    + """
if version ~= tonumber(ARGV[1]) or not free then return -2 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'updated_at', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'context', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[7]) end
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', 0)
  redis.call('ZREM', KEYS[3], ARGV[10])
else
  redis.call('HSET', KEYS[1], 'lease_owner', ARGV[2], 'lease_until', ARGV[9])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[10])
end
return version + 1
"""
)

_ACQUIRE = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
"""
    + _LEASE_FREE
    + """
if not free then return nil end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[2], 'lease_until', ARGV[1])
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
"""
)

_RELEASE = """
if redis.call('HGET', KEYS[1], 'lease_owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', 0)
end
return 1
"""

_FIND = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local found = {}
for _, id in ipairs(ids) do
  local expiry = tonumber(redis.call('HGET', ARGV[3] .. ':' .. id, 'lease_until') or '0')
  if expiry <= tonumber(ARGV[2]) then table.insert(found, id) end
  if #found >= tonumber(ARGV[4]) then break end
end
return found
"""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSagaStorage:
    """Sagas in Redis with versioned, leased transitions; each transition is one round trip."""

    writes_outbox = False

    def __init__(self, client: aioredis.Redis, *, prefix: str = "cqrs:saga") -> None:
        self.client = client
        self.prefix = prefix
        self._owns_client = False
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._find = client.register_script(_FIND)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cqrs:saga") -> RedisSagaStorage:
        """A storage with its own client for `url` (closed by `close`)."""
        storage = cls(aioredis.Redis.from_url(url), prefix=prefix)
        storage._owns_client = True
        return storage

    async def close(self) -> None:
        """Close the client if `from_url` created it."""
        if self._owns_client:
            await self.client.aclose()

    def _keys(self, saga_id: uuid.UUID) -> list[str]:
        return [f"{self.prefix}:{saga_id}", f"{self.prefix}:{saga_id}:log", f"{self.prefix}:active"]

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
    ) -> SagaState:
        now = _now()
        until = now + datetime.timedelta(seconds=lease_seconds)
        created = await self._create(
            keys=self._keys(saga_id),
            args=[
                saga_name,
                json.dumps(context),
                now.isoformat(),
                owner,
                until.timestamp(),
                now.timestamp(),
                str(saga_id),
            ],
        )
        if not created:
            raise SagaConcurrencyError(f"saga {saga_id} already exists")
        return SagaState(
            saga_id=saga_id,
            saga_name=saga_name,
            status=SagaStatus.RUNNING,
            context=context,
            version=1,
            created_at=now,
            updated_at=now,
            lease_owner=owner,
            lease_until=until,
        )

    async def transition(
        self,
        saga_id: uuid.UUID,
        *,
        version: int,
        owner: str,
        lease_seconds: float,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
        outbox_events: Sequence[INotificationEvent] = (),
    ) -> int:
        if outbox_events:
            raise TypeError("RedisSagaStorage has no outbox for outbox_events")
        now = _now()
        result = await self._transition(
            keys=self._keys(saga_id),
            args=[
                version,
                owner,
                now.timestamp(),
                now.isoformat(),
                status.value if status is not None else "",
                json.dumps(context) if context is not None else "",
                _entry_json(entry) if entry is not None else "",
                "1" if status is not None and status.terminal else "0",
                (now + datetime.timedelta(seconds=lease_seconds)).timestamp(),
                str(saga_id),
            ],
        )
        if int(result) < 0:
            raise SagaConcurrencyError(
                f"saga {saga_id} is missing, no longer at version {version}, or leased elsewhere"
            )
        return int(result)

    def _state(self, saga_id: uuid.UUID, fields: dict[str, str], log: list[Any]) -> SagaState:
        until = float(fields.get("lease_until") or 0)
        owner = fields.get("lease_owner") or None
        return SagaState(
            saga_id=saga_id,
            saga_name=fields["saga_name"],
            status=SagaStatus(fields["status"]),
            context=json.loads(fields["context"]),
            version=int(fields["version"]),
            created_at=datetime.datetime.fromisoformat(fields["created_at"]),
            updated_at=datetime.datetime.fromisoformat(fields["updated_at"]),
            lease_owner=owner,
            lease_until=datetime.datetime.fromtimestamp(until, datetime.UTC) if owner else None,
            history=tuple(_entry(item) for item in log),
        )

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        key, log_key, _ = self._keys(saga_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.lrange(log_key, 0, -1)
            raw, log = await pipe.execute()
        if not raw:
            return None
        return self._state(saga_id, {_text(k): _text(v) for k, v in raw.items()}, log)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return [_entry(item) for item in await self.client.lrange(self._keys(saga_id)[1], 0, -1)]

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        now = _now().timestamp()
        ids = await self._find(
            keys=[f"{self.prefix}:active"], args=[now - stale_after, now, self.prefix, limit]
        )
        return [uuid.UUID(_text(i)) for i in ids]

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        now = _now()
        until = now + datetime.timedelta(seconds=lease_seconds)
        result = await self._acquire(
            keys=self._keys(saga_id), args=[until.timestamp(), owner, now.timestamp()]
        )
        if not result:
            return None
        flat, log = result
        fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
        return self._state(saga_id, fields, log)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        await self._release(keys=self._keys(saga_id), args=[owner])


def _entry_json(entry: SagaLogEntry) -> str:
    return json.dumps(
        {
            "step_index": entry.step_index,
            "step_name": entry.step_name,
            "action": entry.action,
            "status": entry.status.value,
            "timestamp": entry.timestamp.isoformat(),
            "details": entry.details,
            "saga_id": str(entry.saga_id),
        }
    )


def _entry(raw: Any) -> SagaLogEntry:
    data = json.loads(raw)
    return SagaLogEntry(
        saga_id=uuid.UUID(data["saga_id"]),
        step_index=data["step_index"],
        step_name=data["step_name"],
        action=data["action"],
        status=SagaStepStatus(data["status"]),
        timestamp=datetime.datetime.fromisoformat(data["timestamp"]),
        details=data["details"],
    )
