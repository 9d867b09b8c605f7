"""Error logs with secrets redacted, for every failure the integration logs."""

from __future__ import annotations

import logging
import traceback

from cqrs.redaction import redact_text

logger = logging.getLogger("cqrs_fastapi")


def log_redacted(what: str, exc: BaseException, *, stacklevel: int = 2) -> None:
    """Log `exc` as an error with its traceback, URL passwords and `password=`-like values
    redacted; the record carries the redacted text only, so no formatter can print the raw
    exception. `stacklevel` picks the frame the record names, as in `logging`."""
    if not logger.isEnabledFor(logging.ERROR):
        return
    summary = redact_text(f"{what}: {type(exc).__name__}: {exc}")
    path, line, function, _ = logger.findCaller(stacklevel=stacklevel)
    record = logger.makeRecord(logger.name, logging.ERROR, path, line, summary, (), None, function)
    record.exc_text = redact_text("".join(traceback.format_exception(exc)).rstrip("\n"))
    logger.handle(record)
