"""Bad values fail at render time: values.schema.json and the chart's own checks."""

from __future__ import annotations

import json

import pytest

REJECTED = [
    # (description, --set values, --set-json values, fragment of helm's error)
    ("missing region", ["region=null"], [], "missing property 'region'"),
    ("empty region", ["region="], [], "/region"),
    ("region with capitals", ["region=US-East"], [], "/region"),
    ("region with underscore", ["region=us_east"], [], "/region"),
    ("negative API replicas", ["api.replicas=-1"], [], "/api/replicas"),
    ("zero API replicas", ["api.replicas=0"], [], "/api/replicas"),
    ("zero worker replicas", ["worker.replicas=0"], [], "/worker/replicas"),
    ("replicas as a string", [], ['{"api": {"replicas": "three"}}'], "/api/replicas"),
    ("scheduler replicas", ["scheduler.replicas=2"], [], "replicas"),
    ("scheduler autoscaling", ["scheduler.autoscaling.enabled=true"], [], "autoscaling"),
    (
        "HPA minimum below one",
        ["api.autoscaling.minReplicas=0"],
        [],
        "/api/autoscaling/minReplicas",
    ),
    ("unknown log level", ["config.logLevel=verbose"], [], "/config/logLevel"),
    ("SMTP port out of range", ["config.smtp.port=70000"], [], "/config/smtp/port"),
    # Production (which the chart always runs) refuses these at start-up: refused here first.
    ("mail without TLS", ["config.smtp.starttls=false"], [], "/config/smtp/starttls"),
    ("relative document path", ["documents.mountPath=documents"], [], "/documents/mountPath"),
    ("documents on /tmp", ["documents.mountPath=/tmp"], [], "/documents/mountPath"),
    ("zero job timeout", ["worker.jobTimeoutSeconds=0"], [], "/worker/jobTimeoutSeconds"),
    ("unknown top-level key", ["replicaCount=3"], [], "replicaCount"),
    ("bad pull policy", ["image.pullPolicy=Sometimes"], [], "/image/pullPolicy"),
    (
        "bad secret name",
        ["secrets.redis.existingSecret=Redis_Secret"],
        [],
        "/secrets/redis/existingSecret",
    ),
    ("root user", ["securityContext.runAsUser=0"], [], "/securityContext/runAsUser"),
    (
        "missing memory request",
        ["api.resources.requests.memory=null"],
        [],
        "/api/resources/requests",
    ),
    ("missing memory limit", ["worker.resources.limits=null"], [], "/worker/resources"),
    ("unknown dev secret key", ["devSecret.data.OTHER=x"], [], "/devSecret/data"),
    (
        "worker grace period shorter than the job timeout",
        ["worker.jobTimeoutSeconds=600", "worker.terminationGracePeriodSeconds=120"],
        [],
        "must be >= worker.jobTimeoutSeconds",
    ),
    (
        "API grace period shorter than the preStop delay and gunicorn's graceful timeout",
        ["api.terminationGracePeriodSeconds=20"],
        [],
        "must be >= api.preStopSleepSeconds + api.gracefulTimeoutSeconds",
    ),
    ("zero graceful timeout", ["api.gracefulTimeoutSeconds=0"], [], "/api/gracefulTimeoutSeconds"),
    (
        "heartbeat max age within a healthy loop's round",
        ["worker.livenessProbe.heartbeatMaxAgeSeconds=60"],
        [],
        "/worker/livenessProbe/heartbeatMaxAgeSeconds",
    ),
    ("scheduler without a liveness probe", ["scheduler.livenessProbe=null"], [], "livenessProbe"),
    (
        "scrape interval without a unit",
        ["monitoring.serviceMonitor.interval=30"],
        [],
        "/monitoring/serviceMonitor/interval",
    ),
    ("unknown monitoring switch", ["monitoring.podMonitor.enabled=true"], [], "podMonitor"),
    (
        "HPA minimum above maximum",
        [
            "api.autoscaling.enabled=true",
            "api.autoscaling.minReplicas=5",
            "api.autoscaling.maxReplicas=2",
        ],
        [],
        "must not exceed maxReplicas",
    ),
    (
        "TLS without a secret name",
        ["ingress.tls.enabled=true", "ingress.tls.secretName="],
        [],
        "ingress.tls.secretName is required",
    ),
    (
        "no ingress and no public URL",
        ["ingress.enabled=false"],
        [],
        "config.publicBaseUrl is required",
    ),
    (
        "existing service account without a name",
        ["serviceAccount.create=false"],
        [],
        "serviceAccount.name is required",
    ),
]


@pytest.mark.parametrize(
    ("set_values", "set_json", "message"),
    [pytest.param(s, j, m, id=d) for d, s, j, m in REJECTED],
)
def test_bad_values_are_rejected(helm, set_values, set_json, message):
    result = helm.template_raw(set_values=set_values, set_json=set_json, check=False)
    assert result.returncode != 0, f"rendered despite bad values:\n{result.stdout[:500]}"
    assert message in result.stderr, result.stderr


def test_bad_region_file_values_fail_lint(helm, chart, tmp_path):
    override = tmp_path / "bad.yaml"
    override.write_text("api:\n  replicas: -2\n")
    result = helm.lint([*chart.values_files("us-east"), override], check=False)
    assert result.returncode != 0
    assert "/api/replicas" in result.stdout + result.stderr


def test_worker_grace_period_override_at_least_job_timeout_is_kept(helm):
    docs = helm.template(
        set_values=["worker.jobTimeoutSeconds=600", "worker.terminationGracePeriodSeconds=600"]
    )
    (worker,) = [
        doc
        for doc in docs
        if doc["kind"] == "Deployment"
        and doc["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 600


def test_schema_is_valid_json_with_required_region(chart):
    schema = json.loads((chart.chart_dir / "values.schema.json").read_text())
    assert "region" in schema["required"]
    assert schema["properties"]["api"]["properties"]["replicas"]["minimum"] == 1
    assert "replicas" not in schema["properties"]["scheduler"]["properties"]
    assert schema["properties"]["scheduler"]["additionalProperties"] is False
