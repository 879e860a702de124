"""The process's log: one handler, on the root logger, that writes each record either as
one JSON object per line (production, for the log collector) or as a readable line (a
developer's terminal). The web application, the workers and the scheduler all set it up
through `configure`. No Flask here.

What a line may hold is fixed here, not filtered afterwards: the time, level, logger,
region and message, the fields named in FIELDS (bound to the request or job in hand, or
passed as `extra=`), and for an exception its type and the frames it went through. An
exception's own message is left out of JSON lines: a database error's carries the
statement's parameters (an email, a tax id), an SMTP reply the recipient's address.
Messages themselves are the code's: they name records by id, never by what they hold.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import TextIO

# The structured fields a line may carry besides its message: ids, the request's shape,
# and figures. Anything else passed as `extra=` is left out.
FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "organization_id",
    "job_id",
    "job",
)

# Loggers of libraries that install handlers of their own (rq's command line puts one
# on `rq.worker` before the application is loaded): theirs are removed so that each
# record reaches the root handler alone, once.
FOREIGN_LOGGERS = ("rq", "rq.worker", "rq.job", "rq.scheduler", "rq.cron")

_bound: ContextVar[Mapping[str, object]] = ContextVar("log_fields", default=MappingProxyType({}))


def bind(**fields: object) -> Token[Mapping[str, object]]:
    """Add `fields` to every line logged from here on in this context (a request, a
    job), until `unbind` with the token returned."""
    return _bound.set({**_bound.get(), **fields})


def unbind(token: Token[Mapping[str, object]]) -> None:
    _bound.reset(token)


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """`fields` on every line logged inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    values = dict(_bound.get())
    values.update((name, record.__dict__[name]) for name in FIELDS if name in record.__dict__)
    return {name: values[name] for name in FIELDS if values.get(name) is not None}


def _exception(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
) -> list[dict[str, object]]:
    """The exception and those it was raised from or during, outermost first: each one's
    type and frames (file:line function), without its message."""
    chain: list[dict[str, object]] = []
    exc: BaseException | None = exc_info[1]
    while exc is not None and len(chain) < 10:
        frames = traceback.extract_tb(exc.__traceback__)
        chain.append(
            {
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "frames": [f"{frame.filename}:{frame.lineno} {frame.name}" for frame in frames],
            }
        )
        exc = exc.__cause__ or exc.__context__
    return chain


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self.region = region

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "region": self.region,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = _exception(record.exc_info)
        return json.dumps(line, default=str)


class PlainFormatter(logging.Formatter):
    """The readable line: time, level, region, logger and message, then the fields as
    key=value, then any traceback in full: for a developer's terminal, not a collector."""

    def __init__(self, region: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s [{region}] %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        line = super().formatMessage(record)
        return f"{line} {fields}" if fields else line


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record comes, so a test harness that
    swaps the stream still gets the lines."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(level: str, region: str, json_lines: bool) -> None:
    """Send every record at `level` or above to stderr, once, as JSON lines or readable
    ones. Calling it again (another application in the same process) replaces the
    handler it set before; handlers of others on the root logger are left alone."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter(region) if json_lines else PlainFormatter(region))
    root.addHandler(handler)
    root.setLevel(level)
    for name in FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        for own in list(foreign.handlers):
            foreign.removeHandler(own)
        foreign.propagate = True
