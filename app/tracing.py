"""Traces with OpenTelemetry, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is
set and entirely off otherwise: no tracer provider, no instrumentation, no span made.

What is traced: each API request (a server span named by its route), the SQL statements
and Redis commands a request or a job makes (their text only: SQLAlchemy's statements
with their placeholders and Redis commands as `COMMAND ? ?`, never the values bound to
them), each RQ job a worker runs (`job <function>`, workers/worker.py), and each email a
worker sends (`outbox send`, workers/jobs.py).

A request's trace goes on in the worker. An outbox message keeps the trace context of
the request that wrote it (outbox_messages.trace_context, written by
app/domain/outbox.py), and its send span is a child of that request's span, linked to
the job that sent it; a job queued from a request or a job carries the context in its
meta (`job_meta`), and its job span is a child of the enqueuing span.

A request span carries the request id and the organization id the request acts for
(REQUEST_ID, ORGANIZATION_ID); no span carries personal data: the request's path is
recorded as its route, without the values in it (an invitation's token) or its query.

Set up once per process, in the process that serves or works (create_app, the worker's
services), after any fork: the exporter's thread belongs to the process that starts it.
A database or Redis call made outside any request or job (a worker waiting for jobs, a
heartbeat) starts no trace of its own (`_WorkOnly`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, g, request
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine

from app.config import Settings

# Each process's service name unless OTEL_SERVICE_NAME says otherwise.
API = "msc-organizations-api"
WORKER = "msc-organizations-worker"

# The span attributes of this service's own (the rest follow OpenTelemetry's conventions).
REQUEST_ID = "msc.request_id"
ORGANIZATION_ID = "msc.organization_id"
# Where a queued job keeps the trace context of the span that queued it.
JOB_META_KEY = "trace_context"

# The longest one export to the collector may take. A work horse sends its spans before
# it ends (`flush`), and the SDK's flush waits for the export whatever time it is given:
# a collector out of reach holds each job this long, not the exporter's default 10 s.
EXPORT_TIMEOUT_SECONDS = 2.0
FLUSH_MILLISECONDS = int(EXPORT_TIMEOUT_SECONDS * 1000)
# The probes the orchestrator sends every few seconds: no traces.
UNTRACED_URLS = "/healthz,/readyz"
# The attributes of a request span that hold its path (with the values in it: an
# invitation's or a reset link's token) or its query, in either of the HTTP conventions
# the instrumentation may follow; each is replaced by the route (`_describe_request`).
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.path", "url.query")

_provider: TracerProvider | None = None


class _WorkOnly(Sampler):
    """Records a trace only if it starts with a request, a job or another unit of work:
    a client call (SQL, Redis) with no parent is dropped, so a worker's idle rounds and
    heartbeats leave no traces of their own."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "WorkOnly"


def start(
    settings: Settings, service_name: str, processor: SpanProcessor | None = None
) -> TracerProvider | None:
    """This process's tracer provider, made (and made the global one) by the first call,
    or None when OTEL_EXPORTER_OTLP_ENDPOINT is unset. `service_name` unless
    OTEL_SERVICE_NAME is set; `processor`: where spans go (by default, batches exported
    to the endpoint; tests keep them in memory). Redis commands are traced from then on,
    in every client of the process."""
    global _provider
    if not settings.otel_exporter_otlp_endpoint:
        return None
    if _provider is None:
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.otel_service_name or service_name}),
            sampler=ParentBased(root=_WorkOnly()),
        )
        # The variable names the collector; the traces go to its standard path.
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(
            processor
            or BatchSpanProcessor(OTLPSpanExporter(endpoint, timeout=EXPORT_TIMEOUT_SECONDS))
        )
        trace.set_tracer_provider(provider)
        RedisInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
    return _provider


def trace_engine(engine: Engine, provider: TracerProvider) -> None:
    """Trace the engine's statements. Each engine on its own, as it is made (the
    instrumentor's own hook, on create_engine, would also trace the readiness probes)."""
    # The instrumentations ship no type hints.
    EngineTracer(  # type: ignore[no-untyped-call]
        provider.get_tracer("sqlalchemy"),
        engine,
        # The instrumentation also counts pooled connections: into no meter here.
        metrics.NoOpMeter("sqlalchemy").create_up_down_counter("db.client.connections.usage"),
    )


def trace_app(app: Flask, provider: TracerProvider) -> None:
    """A span per request (but the probes'), described by `_describe_request`."""
    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        # Comments naming the route on each SQL statement: not wanted.
        enable_commenter=False,
    )
    app.after_request(_describe_request)


def _describe_request(response: Response) -> Response:
    """Put the request's id and organization on its span, and its route in place of its
    path and query. The organization only when the request acts for one."""
    span = trace.get_current_span()
    if not span.is_recording():
        return response
    if "request_id" in g:
        span.set_attribute(REQUEST_ID, g.request_id)
    context = g.get("tenant_context")
    if context is not None and context.organization_id is not None:
        span.set_attribute(ORGANIZATION_ID, str(context.organization_id))
    route = request.url_rule.rule if request.url_rule else ""
    recorded = span.attributes if isinstance(span, ReadableSpan) else None
    replacements = {
        "http.url": request.host_url.rstrip("/") + route,
        "url.full": request.host_url.rstrip("/") + route,
        "url.query": "",
    }
    for name in _URL_ATTRIBUTES:
        if recorded is not None and name in recorded:
            span.set_attribute(name, replacements.get(name, route))
    return response


def _tracer() -> trace.Tracer:
    return _provider.get_tracer("msc") if _provider is not None else trace.NoOpTracer()


def current_context() -> dict[str, str]:
    """The current span's context as W3C headers (traceparent, tracestate), for work
    that goes on elsewhere; empty when nothing is traced."""
    carrier: dict[str, str] = {}
    # The trace context alone: never the baggage a client may have sent along.
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def job_meta() -> dict[str, Any]:
    """The meta of a job queued now: the trace context it continues (`job_span`)."""
    carrier = current_context()
    return {JOB_META_KEY: carrier} if carrier else {}


@contextmanager
def job_span(function: str, job_id: str, queue: str, meta: Mapping[str, Any]) -> Iterator[Span]:
    """The span of a job run: a child of the span that queued it, if its meta says
    which (`job_meta`), else a trace of its own."""
    with _tracer().start_as_current_span(
        f"job {function}",
        context=propagate.extract(meta.get(JOB_META_KEY) or {}),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rq",
            "messaging.destination.name": queue,
            "messaging.message.id": job_id,
            "code.function": function,
        },
    ) as span:
        yield span


@contextmanager
def continued_span(
    name: str, trace_context: Mapping[str, str] | None, attributes: Attributes
) -> Iterator[Span]:
    """A span for work written down earlier with its `trace_context` (an outbox
    message's): a child of the span that wrote it, linked to the current one (the job
    doing it). Without a context, a child of the current span."""
    if not trace_context:
        with _tracer().start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span
        return
    doing = trace.get_current_span().get_span_context()
    with _tracer().start_as_current_span(
        name,
        context=propagate.extract(trace_context),
        kind=SpanKind.CLIENT,
        links=[Link(doing)] if doing.is_valid else None,
        attributes=attributes,
    ) as span:
        yield span


def flush() -> None:
    """Send the spans waiting for their batch now (a process about to end)."""
    if _provider is not None:
        _provider.force_flush(FLUSH_MILLISECONDS)
