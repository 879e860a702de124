"""PgBouncer as an option of the chart (database.pgbouncer): the application role's pods
connect through it, the migration Job straight to PostgreSQL."""

from __future__ import annotations

from typing import Any

APPLICATION = ("api", "worker", "scheduler")
THROUGH_PGBOUNCER = ["database.pgbouncer.enabled=true"]


def _component(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    (found,) = [
        doc
        for doc in docs
        if doc["kind"] == kind
        and doc["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def _database_url_keys(docs: list[dict[str, Any]], kind: str, component: str) -> set[str]:
    """The Secret keys DATABASE_URL comes from, in every container of the component."""
    spec = _component(docs, kind, component)["spec"]["template"]["spec"]
    return {
        entry["valueFrom"]["secretKeyRef"]["key"]
        for container in (*spec.get("initContainers", []), *spec["containers"])
        for entry in container.get("env", [])
        if entry["name"] == "DATABASE_URL"
    }


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    (configmap,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    data: dict[str, str] = configmap["data"]
    return data


def _egress_ports(docs: list[dict[str, Any]], component: str) -> set[int]:
    policy = _component(docs, "NetworkPolicy", component)
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}


def test_off_by_default(rendered):
    docs = rendered["default"]
    for component in APPLICATION:
        assert _database_url_keys(docs, "Deployment", component) == {"DATABASE_URL"}
    assert "DATABASE_PREPARED_STATEMENTS" not in _config(docs)
    assert 5432 in _egress_ports(docs, "api") and 6432 not in _egress_ports(docs, "api")


def test_application_pods_connect_through_pgbouncer(helm, chart, variant):
    docs = helm.template(chart.values_files(variant), THROUGH_PGBOUNCER)
    for component in APPLICATION:
        assert _database_url_keys(docs, "Deployment", component) == {"DATABASE_PGBOUNCER_URL"}
    # Migrations and role grants keep the direct connection (and its database name).
    assert _database_url_keys(docs, "Job", "migrations") == {"DATABASE_URL"}
    # PgBouncer before 1.21 (or without max_prepared_statements) cannot keep a statement
    # prepared in one transaction for the next: the application prepares none.
    assert _config(docs)["DATABASE_PREPARED_STATEMENTS"] == "false"
    for component in ("api", "workers"):
        ports = _egress_ports(docs, component)
        assert 6432 in ports and 5432 not in ports, component
    assert 5432 in _egress_ports(docs, "migrations")


def test_prepared_statements_kept_when_pgbouncer_keeps_them(helm):
    docs = helm.template(
        set_values=[*THROUGH_PGBOUNCER, "database.pgbouncer.preparedStatements=true"]
    )
    assert "DATABASE_PREPARED_STATEMENTS" not in _config(docs)


def test_pgbouncer_values_are_checked(helm):
    result = helm.template_raw(
        set_values=[*THROUGH_PGBOUNCER, "database.pgbouncer.poolMode=session"], check=False
    )
    assert result.returncode != 0
    assert "poolMode" in result.stderr
