"""Makes the generated test messages (`protos/orders_pb2.py`) and the events converting to them
(`order_events.py`) importable by the test modules."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent

for directory in (HERE / "protos", HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
