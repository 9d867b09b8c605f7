"""`RedisSagaStorage`: saga state and step log in Redis, one Lua script (round trip) per transition.

Keys under `prefix` (default `cqrs:saga`): a hash per saga (`<prefix>:<id>`: name, status,
context JSON, version, timestamps, lease, and the `trace` headers as JSON when the saga was
created with any), a list per saga for the step log (`<prefix>:<id>:log`)
and a sorted set of unfinished sagas scored by their last update (`<prefix>:active`), which
`find_interrupted` reads. Example::

    storage = RedisSagaStorage.from_url("redis://localhost:6379/0")
    mediator = cqrs.saga.bootstrap.bootstrap(sagas_mapper=..., saga_storage=storage)
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cqrs.clock import utcnow
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.storage import Pycqrs4StorageMethods, default_owner
from cqrs.saga.storage.protocol import SagaConcurrencyError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisSagaStorage"]

_LEASE_FREE = """
local owner = redis.call('HGET', KEYS[1], 'lease_owner')
local expiry = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
local free = (not owner) or owner == '' or owner == ARGV[2] or expiry <= tonumber(ARGV[3])
"""

# ARGV: name, context, now (ISO), owner, lease_until, now, saga id, trace ('' for none)
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'saga_name', ARGV[1], 'status', 'running', 'context', ARGV[2],
  'version', 1, 'created_at', ARGV[3], 'updated_at', ARGV[3], 'lease_owner', ARGV[4],
  'lease_until', ARGV[5])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'trace', ARGV[8]) end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[7])
return 1
"""

# ARGV: version, owner, now, now (ISO), status, context, entry, lease_until, saga id
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
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'completed' or status == 'compensated' or status == 'failed' then
  redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', 0)
  redis.call('ZREM', KEYS[3], ARGV[9])
else
  redis.call('HSET', KEYS[1], 'lease_owner', ARGV[2], 'lease_until', ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[9])
end
return version + 1
"""
)

_ACQUIRE = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
"""
    + _LEASE_FREE
    + """
if not free then return false end
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

_RENEW = """
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[2])
return 1
"""

_FIND = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local found = {}
for _, id in ipairs(ids) do
  if #found >= tonumber(ARGV[4]) then break end
  local expiry = tonumber(redis.call('HGET', ARGV[3] .. ':' .. id, 'lease_until') or '0')
  if expiry <= tonumber(ARGV[2]) then table.insert(found, id) end
end
return found
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSagaStorage(Pycqrs4StorageMethods):
    """A `cqrs.saga.storage.SagaStorage` in Redis with versioned, leased transitions.

    `transition` is one Lua script: it checks the version and the lease, then writes status,
    context and the log entry, renews or (on a terminal status) clears the lease and keeps the
    set of unfinished sagas current, atomically and in one round trip; `renew` (the heartbeat of
    a long step) is another script that only moves the owner's lease. Lease times come from
    the callers' clocks, which should be kept in sync (NTP). The client may or may not decode
    responses. Meant for one Redis server: `find_interrupted` reads keys it does not declare,
    which Redis Cluster refuses.
    """

    writes_outbox = False

    def __init__(self, client: aioredis.Redis, *, prefix: str = "cqrs:saga") -> None:
        self.client = client
        self.prefix = prefix
        self._owns_client = False
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._find = client.register_script(_FIND)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cqrs:saga") -> RedisSagaStorage:
        """A storage with its own client for `url` (closed by `close`)."""
        import redis.asyncio as aioredis

        storage = cls(aioredis.Redis.from_url(url), prefix=prefix)
        storage._owns_client = True
        return storage

    async def load_scripts(self) -> None:
        """Load the Lua scripts into Redis now (one round trip), not on their first use."""
        scripts = (
            self._create,
            self._transition,
            self._acquire,
            self._release,
            self._renew,
            self._find,
        )
        async with self.client.pipeline(transaction=False) as pipe:
            for script in scripts:
                pipe.script_load(script.script)
            await pipe.execute()

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
        owner: str | None = None,
        lease_seconds: float = 0.0,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        if owner is None:
            owner = default_owner()
        now = utcnow()
        until = now + datetime.timedelta(seconds=lease_seconds)
        kept = dict(trace) if trace else None
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
                "" if kept is None else json.dumps(kept, separators=(",", ":")),
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
            trace=kept,
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
        now = utcnow()
        stamp = now.timestamp()
        result = await self._transition(
            keys=self._keys(saga_id),
            args=[
                version,
                owner,
                stamp,
                now.isoformat(),
                "" if status is None else status.value,
                "" if context is None else json.dumps(context),
                "" if entry is None else _dump_entry(entry),
                stamp + lease_seconds,
                str(saga_id),
            ],
        )
        new_version = int(result)
        if new_version < 0:
            raise SagaConcurrencyError(
                f"saga {saga_id} does not exist"
                if new_version == -1
                else f"saga {saga_id} moved on from version {version} or is leased elsewhere"
            )
        return new_version

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> SagaState | None:
        key, log_key, _ = self._keys(saga_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.lrange(log_key, 0, -1)
            raw, log = await pipe.execute()
        if not raw:
            return None
        return _state(saga_id, {_text(k): _text(v) for k, v in raw.items()}, log)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        log = await self.client.lrange(self._keys(saga_id)[1], 0, -1)
        return [_load_entry(saga_id, item) for item in log]

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        now = utcnow().timestamp()
        ids = await self._find(
            keys=[f"{self.prefix}:active"], args=[now - stale_after, now, self.prefix, limit]
        )
        return [uuid.UUID(_text(saga_id)) for saga_id in ids]

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        now = utcnow().timestamp()
        result = await self._acquire(
            keys=self._keys(saga_id), args=[now + lease_seconds, owner, now]
        )
        if not result:
            return None
        flat, log = result
        fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
        return _state(saga_id, fields, log)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        await self._release(keys=self._keys(saga_id), args=[owner])

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        until = utcnow().timestamp() + lease_seconds
        return bool(await self._renew(keys=self._keys(saga_id)[:1], args=[owner, until]))


def _state(saga_id: uuid.UUID, fields: dict[str, str], log: list[Any]) -> SagaState:
    owner = fields.get("lease_owner") or None
    until = float(fields.get("lease_until") or 0)
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
        history=tuple(_load_entry(saga_id, item) for item in log),
        trace=json.loads(fields["trace"]) if fields.get("trace") else None,
    )


def _dump_entry(entry: SagaLogEntry) -> str:
    return json.dumps(
        [
            entry.step_index,
            entry.step_name,
            entry.action,
            entry.status.value,
            entry.timestamp.isoformat(),
            entry.details,
        ]
    )


def _load_entry(saga_id: uuid.UUID, raw: Any) -> SagaLogEntry:
    index, name, action, status, timestamp, details = json.loads(raw)
    return SagaLogEntry(
        saga_id=saga_id,
        step_index=index,
        step_name=name,
        action=action,
        status=SagaStepStatus(status),
        timestamp=datetime.datetime.fromisoformat(timestamp),
        details=details,
    )
