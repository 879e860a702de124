"""The chart's monitoring: the metrics port of every process, the PodMonitor and the
PrometheusRule behind their switches, the NetworkPolicy's way in for the scraper, the
alert rules (checked and unit-tested by promtool) and the Grafana dashboard.

The monitoring.coreos.com kinds have no schema in kubernetes-validate: their CRDs'
required fields and types are checked here by hand (what the Prometheus Operator's
CRDs require: PodMonitor spec.selector and spec.podMetricsEndpoints, PrometheusRule
spec.groups[].name and .rules[].expr), and the rules themselves by promtool.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

# The metrics the processes export (README.md, Operations): the only names the alerts
# and the dashboard may use.
COUNTERS = {
    "msc_http_requests_total",
    "msc_reminders_written_total",
    "msc_emails_sent_total",
    "msc_emails_failed_total",
    "msc_login_failures_total",
    "msc_rate_limit_rejections_total",
}
GAUGES = {
    "msc_http_requests_in_flight",
    "msc_db_pool_checked_out",
    "msc_db_pool_waiting",
    "msc_outbox_messages",
    "msc_outbox_oldest_due_age_seconds",
    "msc_rq_queue_depth",
    "msc_rq_failed_jobs",
    "msc_scheduler_heartbeat_timestamp_seconds",
}
HISTOGRAMS = {"msc_http_request_duration_seconds", "msc_db_statements_per_request"}
METRICS = COUNTERS | GAUGES | HISTOGRAMS

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)
ALERTS_TEST = Path(__file__).parent / "alerts_test.yaml"
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
MONITORED = ("api", "worker", "scheduler")
MONITORING_ON = [
    "monitoring.serviceMonitor.enabled=true",
    "monitoring.serviceMonitor.interval=15s",
    "monitoring.serviceMonitor.labels.release=kube-prometheus-stack",
    "monitoring.prometheusRule.enabled=true",
    "monitoring.prometheusRule.labels.role=alert-rules",
]
MONITORING_KINDS = {"PodMonitor", "PrometheusRule"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False
    )


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_component(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    (found,) = [
        doc
        for doc in of_kind(docs, kind)
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def pod_template(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    template: dict[str, Any] = by_component(docs, kind, component)["spec"]["template"]
    return template


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def metric_names(promql: str) -> set[str]:
    """The msc_ metrics a PromQL expression reads, histograms by their family name."""
    names = set(re.findall(r"\bmsc_[a-z_]+\b", promql))
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


def alert_rules(chart) -> list[dict[str, Any]]:
    groups = chart.load_yaml(chart.chart_dir / "files" / "alerts.yaml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def monitoring_manifests(helm) -> list[dict[str, Any]]:
    return helm.template(set_values=MONITORING_ON)


# --- Metrics port and tracing -------------------------------------------------


def test_every_process_serves_metrics_on_its_own_port(manifests, values):
    port = values["monitoring"]["metricsPort"]
    (configmap,) = of_kind(manifests, "ConfigMap")
    assert configmap["data"]["METRICS_PORT"] == str(port)
    for component in MONITORED:
        (container,) = pod_template(manifests, "Deployment", component)["spec"]["containers"]
        ports = {entry["name"]: entry for entry in container["ports"]}
        assert ports["metrics"] == {"name": "metrics", "containerPort": port, "protocol": "TCP"}
        assert port not in {
            entry["containerPort"] for name, entry in ports.items() if name != "metrics"
        }


def test_metrics_port_follows_values_and_never_is_the_api_port(helm):
    docs = helm.template(set_values=["monitoring.metricsPort=9200"])
    (configmap,) = of_kind(docs, "ConfigMap")
    assert configmap["data"]["METRICS_PORT"] == "9200"
    (scheduler,) = pod_template(docs, "Deployment", "scheduler")["spec"]["containers"]
    assert scheduler["ports"] == [{"name": "metrics", "containerPort": 9200, "protocol": "TCP"}]
    refused = helm.template_raw(set_values=["monitoring.metricsPort=8000"], check=False)
    assert refused.returncode != 0 and "/monitoring/metricsPort" in refused.stderr


def test_traces_are_exported_only_when_an_endpoint_is_set(rendered, helm):
    for docs in rendered.values():
        (configmap,) = of_kind(docs, "ConfigMap")
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in configmap["data"]
    endpoint = "http://otel-collector.observability:4318"
    docs = helm.template(set_values=[f"tracing.otlpEndpoint={endpoint}"])
    (configmap,) = of_kind(docs, "ConfigMap")
    assert configmap["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    refused = helm.template_raw(set_values=["tracing.otlpEndpoint=otel:4318"], check=False)
    assert refused.returncode != 0 and "/tracing/otlpEndpoint" in refused.stderr
    # The API's and workers' NetworkPolicies let the spans out, and only then.
    for component in ("api", "workers"):
        for rendered_docs, reaches in ((docs, True), (rendered["default"], False)):
            policy = by_component(rendered_docs, "NetworkPolicy", component)
            ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
            assert (4318 in ports) is reaches, (component, ports)


# --- Switches -------------------------------------------------------------------


def test_monitoring_is_off_by_default(rendered, chart):
    values = chart.merged_values("default")
    assert values["monitoring"]["serviceMonitor"]["enabled"] is False
    assert values["monitoring"]["prometheusRule"]["enabled"] is False
    for docs in rendered.values():
        assert not [doc for doc in docs if doc["kind"] in MONITORING_KINDS]


def test_chart_lints_with_monitoring_on(helm, chart):
    for files in ([], chart.values_files("us-east")):
        result = helm.lint(files, set_values=MONITORING_ON)
        assert "0 chart(s) failed" in result.stdout


def test_other_manifests_stay_valid_with_monitoring_on(monitoring_manifests, chart):
    kinds = {doc["kind"] for doc in monitoring_manifests}
    assert kinds >= MONITORING_KINDS
    for doc in monitoring_manifests:
        if doc["kind"] not in MONITORING_KINDS:
            kubernetes_validate.validate(doc, chart.kube_version, strict=True)


def test_pod_monitor_scrapes_the_three_kinds_of_pod(monitoring_manifests):
    (monitor,) = of_kind(monitoring_manifests, "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    spec = monitor["spec"]
    assert set(spec) <= {"selector", "podMetricsEndpoints", "podTargetLabels"}
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "scrapeTimeout": "10s",
    }
    assert spec["podTargetLabels"] == ["msc/region", "app.kubernetes.io/component"]
    for component in MONITORED:
        template = pod_template(monitoring_manifests, "Deployment", component)
        assert selector_matches(spec["selector"], template["metadata"]["labels"]), component
        (container,) = template["spec"]["containers"]
        assert "metrics" in {port["name"] for port in container["ports"]}
        for label in spec["podTargetLabels"]:
            assert template["metadata"]["labels"][label], (component, label)
    migrations = pod_template(monitoring_manifests, "Job", "migrations")
    assert not selector_matches(spec["selector"], migrations["metadata"]["labels"])


def test_prometheus_rule_holds_the_alerts_file(monitoring_manifests, chart):
    (rule,) = of_kind(monitoring_manifests, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["role"] == "alert-rules"
    assert rule["spec"] == chart.load_yaml(chart.chart_dir / "files" / "alerts.yaml")
    for group in rule["spec"]["groups"]:
        assert isinstance(group["name"], str) and group["name"]
        for entry in group["rules"]:
            assert isinstance(entry["expr"], str) and entry["expr"]
            assert re.fullmatch(r"([0-9]+(ms|s|m|h))+", entry["for"])


@needs_promtool
def test_rendered_prometheus_rule_passes_promtool(monitoring_manifests, tmp_path):
    (rule,) = of_kind(monitoring_manifests, "PrometheusRule")
    rendered = tmp_path / "rendered-rules.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    result = promtool("check", "rules", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


def test_network_policies_let_only_the_scraper_reach_the_metrics_port(monitoring_manifests, chart):
    scraper = chart.merged_values("default")["networkPolicy"]["metricsScraper"]
    scrape_rule = {
        "from": [
            {
                "namespaceSelector": scraper["namespaceSelector"],
                "podSelector": scraper["podSelector"],
            }
        ],
        "ports": [{"protocol": "TCP", "port": "metrics"}],
    }
    api = by_component(monitoring_manifests, "NetworkPolicy", "api")["spec"]["ingress"]
    assert len(api) == 2 and scrape_rule in api
    (http_rule,) = [rule for rule in api if rule != scrape_rule]
    assert http_rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    workers = by_component(monitoring_manifests, "NetworkPolicy", "workers")["spec"]
    assert workers["ingress"] == [scrape_rule]
    migrations = by_component(monitoring_manifests, "NetworkPolicy", "migrations")["spec"]
    assert not migrations.get("ingress")


# --- Alert rules --------------------------------------------------------------------


def test_every_alert_says_how_bad_what_and_what_to_do(chart):
    rules = alert_rules(chart)
    assert {rule["alert"] for rule in rules} == {
        "MscHighErrorRatio",
        "MscHighLatencyP99",
        "MscOutboxBacklog",
        "MscSchedulerHeartbeatStale",
        "MscSchedulerHeartbeatMissing",
        "MscFailedJobsGrowing",
    }
    for rule in rules:
        assert rule["for"], rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, rule["alert"]
        assert metric_names(rule["expr"]) and metric_names(rule["expr"]) <= METRICS, rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test(chart):
    cases: dict[str, set[bool]] = {}
    for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
            for series in test["input_series"]:
                assert metric_names(series["series"]) <= METRICS, series["series"]
    for rule in alert_rules(chart):
        assert cases.get(rule["alert"]) == {True, False}, rule["alert"]


@needs_promtool
def test_alert_rules_pass_promtool_check(chart):
    result = promtool("check", "rules", str(chart.chart_dir / "files" / "alerts.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules(chart))} rules found" in result.stdout


@needs_promtool
def test_alert_rules_pass_their_unit_tests():
    result = promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_catch_a_wrong_threshold(chart, tmp_path):
    """The unit tests fail when a threshold moves: the firing and quiet cases sit on
    either side of each one."""
    rules = (chart.chart_dir / "files" / "alerts.yaml").read_text()
    moved = rules.replace("> 0.05", "> 0.5")
    assert moved != rules
    (tmp_path / "alerts.yaml").write_text(moved)
    unit_tests = ALERTS_TEST.read_text().replace(
        "../../helm/msc-organizations/files/alerts.yaml", str(tmp_path / "alerts.yaml")
    )
    (tmp_path / "alerts_test.yaml").write_text(unit_tests)
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert result.returncode != 0
    assert "MscHighErrorRatio" in result.stdout + result.stderr


# --- Grafana dashboard ----------------------------------------------------------------


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_reads_every_metric_and_only_those():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    queries = dashboard_queries()
    assert queries
    used: set[str] = set()
    for query in queries:
        names = metric_names(query)
        assert names and names <= METRICS, query
        used |= names
    assert used == METRICS


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses each query, as a recording rule, once Grafana's variables are
    replaced by what Grafana puts in their place."""
    rules = [
        {
            "record": f"dashboard:query_{index}",
            "expr": query.replace("$__rate_interval", "5m").replace("$namespace", "msc"),
        }
        for index, query in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
