"""Properties of the manifests the chart renders, per variant (default values and
each region file), validated against the Kubernetes 1.35 schemas."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import fields
from typing import Any

import kubernetes_validate
import pytest

from app.config import Settings

SECRET_ENV = {
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "DATABASE_ADMIN_URL",
    "REDIS_URL",
    "JWT_SECRET_KEY",
    "OUTBOX_SECRET_KEY",
    "MFA_ENCRYPTION_KEY",
    "DOCUMENT_ENCRYPTION_KEYS",
    "TENANT_CONTEXT_KEY",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
}
CONFIG_ENV = {
    "APP_ENV",
    "JWT_ACCESS_TOKEN_MINUTES",
    "JWT_REFRESH_TOKEN_DAYS",
    "PUBLIC_BASE_URL",
    "LOG_LEVEL",
    "TRUSTED_PROXY_COUNT",
    "HTTPS_ONLY",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_STARTTLS",
    "SMTP_SENDER",
    "DOCUMENT_STORAGE_PATH",
}
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)
HOOK_WEIGHT = "helm.sh/hook-weight"
# DOCUMENT_ENCRYPTION_KEYS as the platform team writes it: id:key, the key 32 random bytes
# in base64.
DOCUMENT_KEYS = "2026-01:" + base64.b64encode(bytes(range(100, 132))).decode()


def by_component(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    found = [
        doc
        for doc in docs
        if doc["kind"] == kind
        and doc["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1, f"expected one {kind} for {component}, found {len(found)}"
    return found[0]


def env_map(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = container.get("env", [])
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"duplicate env in {container['name']}: {names}"
    return {entry["name"]: entry for entry in entries}


def only_container(pod_template: dict[str, Any]) -> dict[str, Any]:
    assert len(pod_template["spec"]["containers"]) == 1
    return pod_template["spec"]["containers"][0]


def pod_specs_of(docs: list[dict[str, Any]]):
    """(workload, pod template) of every Deployment and Job."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield doc, doc["spec"]["template"]


def all_containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def pod_labels(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    return by_component(docs, "Deployment", component)["spec"]["template"]["metadata"]["labels"]


def deployment_container(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return only_container(by_component(docs, "Deployment", component)["spec"]["template"])


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def dockerfile_cmd(chart) -> list[str]:
    cmd_lines = [
        line for line in chart.dockerfile.read_text().splitlines() if line.startswith("CMD ")
    ]
    assert len(cmd_lines) == 1, cmd_lines
    return json.loads(cmd_lines[0][len("CMD ") :])


# --- Kubernetes schemas ----------------------------------------------------


def test_kubernetes_validate_bundles_target_version(chart):
    versions = kubernetes_validate.utils.all_versions()
    assert chart.kube_version in versions, versions


def test_manifests_valid_against_kubernetes_schemas(manifests, chart):
    assert manifests
    for doc in manifests:
        # Strict: unknown fields are errors too. A kind without a schema raises.
        validated = kubernetes_validate.validate(doc, chart.kube_version, strict=True)
        assert validated == "1.35", (doc["kind"], validated)


def test_rendered_kinds(manifests, variant):
    kinds = sorted(doc["kind"] for doc in manifests)
    expected = [
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Deployment",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
        "ServiceAccount",
    ]
    if variant != "default":
        expected += ["HorizontalPodAutoscaler", "HorizontalPodAutoscaler"]
    assert kinds == sorted(expected)


def test_names_fit_kubernetes_limits(manifests):
    for doc in manifests:
        name = doc["metadata"]["name"]
        assert len(name) <= 63, name
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name


# --- Labels ----------------------------------------------------------------


def test_standard_labels_on_every_resource(manifests, values):
    for doc in manifests:
        labels = doc["metadata"]["labels"]
        for key in STANDARD_LABELS:
            assert labels.get(key), f"{doc['kind']}/{doc['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/name"] == "msc-organizations"
        assert labels["msc/region"] == values["region"]


def test_selectors_select_their_own_pods_only(manifests):
    deployments = [doc for doc in manifests if doc["kind"] == "Deployment"]
    for deployment in deployments:
        selector = deployment["spec"]["selector"]
        assert selector_matches(selector, deployment["spec"]["template"]["metadata"]["labels"])
        for other in deployments:
            if other is not deployment:
                other_labels = other["spec"]["template"]["metadata"]["labels"]
                assert not selector_matches(selector, other_labels)


# --- Region ----------------------------------------------------------------


def test_region_reaches_every_pod(manifests, values):
    region = values["region"]
    workloads = list(pod_specs_of(manifests))
    assert len(workloads) == 4  # api, worker, scheduler, migrations
    for workload, template in workloads:
        assert template["metadata"]["labels"]["msc/region"] == region
        assert template["metadata"]["annotations"]["msc/region"] == region
        for container in all_containers(template):
            env = env_map(container)
            assert env["REGION"] == {"name": "REGION", "value": region}, (
                workload["metadata"]["name"],
                container["name"],
            )


def test_region_files_set_their_own_region(chart, region):
    assert chart.load_yaml(chart.chart_dir / f"values-{region}.yaml")["region"] == region


# --- Security --------------------------------------------------------------


def test_pod_and_container_security_context(manifests, values):
    uid = values["securityContext"]["runAsUser"]
    assert uid != 0
    for workload, template in pod_specs_of(manifests):
        spec = template["spec"]
        name = workload["metadata"]["name"]
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert pod_sc["runAsUser"] == uid, name
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] == uid, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc.get("privileged") is not True, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where


def test_writable_tmp_is_an_emptydir(manifests):
    for workload, template in pod_specs_of(manifests):
        volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
        for container in all_containers(template):
            mounts = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(mounts) == 1, (workload["metadata"]["name"], container["name"])
            assert "emptyDir" in volumes[mounts[0]["name"]]
            assert mounts[0].get("readOnly") is not True


def test_resources_on_every_container(manifests):
    for workload, template in pod_specs_of(manifests):
        for container in all_containers(template):
            resources = container["resources"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert resources["requests"]["cpu"], where
            assert resources["requests"]["memory"], where
            assert resources["limits"]["memory"], where


def test_service_accounts_do_not_mount_tokens(manifests):
    for account in (doc for doc in manifests if doc["kind"] == "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


# --- Secrets ---------------------------------------------------------------


def test_secret_env_comes_from_secret_refs(manifests):
    for _, template in pod_specs_of(manifests):
        for container in all_containers(template):
            for name, entry in env_map(container).items():
                if name in SECRET_ENV:
                    assert "value" not in entry, (container["name"], name)
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["name"] and ref["key"]
                else:
                    assert "secretKeyRef" not in entry.get("valueFrom", {}), name
            for source in container.get("envFrom", []):
                assert "secretRef" not in source


def test_region_renders_no_secret(rendered, region):
    assert not [doc for doc in rendered[region] if doc["kind"] == "Secret"]


def test_region_files_only_name_secrets(chart, region):
    data = chart.load_yaml(chart.chart_dir / f"values-{region}.yaml")
    assert "devSecret" not in data
    for group, settings in data.get("secrets", {}).items():
        assert set(settings) <= {"existingSecret", "keys"}, group
    text = (chart.chart_dir / f"values-{region}.yaml").read_text()
    # No connection strings or credentials of any kind.
    assert not re.search(r"(postgres(ql)?(\+\w+)?|rediss?)://", text)
    assert not re.search(r"(?i)^\s*(password|token|secret_key|jwt_secret_key)\s*:", text, re.M)


def test_region_secret_names_come_from_region_file(rendered, chart, region):
    data = chart.merged_values(region)
    expected = {data["secrets"][group]["existingSecret"] for group in data["secrets"]}
    referenced = set()
    for _, template in pod_specs_of(rendered[region]):
        for container in all_containers(template):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add(ref["name"])
    assert referenced == expected


def test_database_credentials_follow_least_privilege(manifests):
    for component in ("api", "worker", "scheduler"):
        container = deployment_container(manifests, component)
        env = env_map(container)
        assert "DATABASE_URL" in env
        assert "DATABASE_OWNER_URL" not in env, component
        assert "DATABASE_ADMIN_URL" not in env, component
    job = by_component(manifests, "Job", "migrations")["spec"]["template"]["spec"]
    (ensure_roles,) = job["initContainers"]
    (upgrade,) = job["containers"]
    database_env = {"DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_ADMIN_URL"}
    assert set(env_map(ensure_roles)) >= database_env
    assert "DATABASE_OWNER_URL" in env_map(upgrade)
    assert "DATABASE_ADMIN_URL" not in env_map(upgrade)


# --- Configuration ---------------------------------------------------------


def test_configmap_holds_the_non_secret_settings(manifests, values):
    (configmap,) = [doc for doc in manifests if doc["kind"] == "ConfigMap"]
    data = configmap["data"]
    assert set(data) >= CONFIG_ENV
    assert not SECRET_ENV & set(data)
    assert data["APP_ENV"] == "production"
    assert data["SMTP_PORT"] == str(values["config"]["smtp"]["port"])
    assert data["SMTP_STARTTLS"] in {"true", "false"}
    assert all(isinstance(value, str) for value in data.values())
    if values["ingress"]["tls"]["enabled"]:
        assert data["PUBLIC_BASE_URL"] == f"https://{values['ingress']['host']}"
    for component in ("api", "worker", "scheduler"):
        container = deployment_container(manifests, component)
        assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in container["envFrom"]


def container_environment(
    container: dict[str, Any], configmap: dict[str, Any], secret_value: str
) -> dict[str, str]:
    """What the process in `container` reads: the ConfigMap it takes, its own values,
    and `secret_value` for whatever comes from a Secret (the platform team's), but the
    documents' master keys, which have a form of their own."""
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == configmap["metadata"]["name"]
        environ.update(configmap["data"])
    for name, entry in env_map(container).items():
        from_secret = DOCUMENT_KEYS if name == "DOCUMENT_ENCRYPTION_KEYS" else secret_value
        environ[name] = entry.get("value", from_secret)
    return environ


def test_every_process_passes_the_production_check(manifests):
    # A strong secret everywhere a Secret is read, as the platform team creates them:
    # what the chart itself sets must never trip the check.
    (configmap,) = [doc for doc in manifests if doc["kind"] == "ConfigMap"]
    for workload, template in pod_specs_of(manifests):
        for container in all_containers(template):
            environ = container_environment(container, configmap, "postgresql://u:" + "s" * 40)
            settings = Settings.from_env(environ)
            assert settings.app_env == "production"
            assert settings.production_problems() == [], (
                workload["metadata"]["name"],
                container["name"],
            )


def test_the_api_stores_documents_on_their_volume(manifests, values):
    template = by_component(manifests, "Deployment", "api")["spec"]["template"]
    volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
    (mount,) = [
        m
        for m in only_container(template)["volumeMounts"]
        if m["mountPath"] == values["documents"]["mountPath"]
    ]
    claim = values["documents"]["existingClaim"]
    if claim:
        assert volumes[mount["name"]]["persistentVolumeClaim"] == {"claimName": claim}
    else:
        assert "emptyDir" in volumes[mount["name"]]


def test_region_documents_outlive_their_pods(chart, region):
    # An emptyDir would lose every upload with its pod, and split them between pods.
    assert chart.merged_values(region)["documents"]["existingClaim"]


def test_brute_force_settings_reach_the_configmap(helm):
    """The proxy count and any limit set in values become the variables the service
    reads (app/config.py); a name the service does not know is refused by the schema."""
    docs = helm.template(
        set_values=[
            "config.trustedProxyCount=2",
            "config.rateLimits.RATE_LIMIT_SIGN_IN=5/minute",
            "config.rateLimits.SIGN_IN_FREE_FAILURES=3",
        ]
    )
    (configmap,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    data = configmap["data"]
    assert data["TRUSTED_PROXY_COUNT"] == "2"
    assert data["RATE_LIMIT_SIGN_IN"] == "5/minute"
    assert data["SIGN_IN_FREE_FAILURES"] == "3"
    known = {setting.metadata["env"] for setting in fields(Settings)}
    assert {"TRUSTED_PROXY_COUNT", "RATE_LIMIT_SIGN_IN", "SIGN_IN_FREE_FAILURES"} <= known
    refused = helm.template_raw(set_values=["config.rateLimits.LOG_LEVEL=DEBUG"], check=False)
    assert refused.returncode != 0 and "rateLimits" in refused.stderr


def test_https_only_reaches_the_configmap(helm):
    """Off unless the values say the API is reached over HTTPS only
    (app/security_headers.py: Strict-Transport-Security on every response)."""

    def https_only(set_values):
        (configmap,) = [
            doc for doc in helm.template(set_values=set_values) if doc["kind"] == "ConfigMap"
        ]
        return configmap["data"]["HTTPS_ONLY"]

    assert https_only([]) == "false"
    assert https_only(["config.httpsOnly=true"]) == "true"
    assert Settings.from_env({"HTTPS_ONLY": https_only(["config.httpsOnly=true"])}).https_only
    refused = helm.template_raw(set_values=["config.httpsOnly=maybe"], check=False)
    assert refused.returncode != 0 and "httpsOnly" in refused.stderr


def test_cors_origins_reach_the_configmap(helm):
    """None by default; a list becomes the comma-separated variable the service reads,
    and what is no origin is refused by the schema."""

    def origins(set_values):
        docs = helm.template(set_values=set_values)
        (configmap,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
        return configmap["data"]["CORS_ALLOWED_ORIGINS"]

    assert origins([]) == ""
    listed = origins(["config.corsAllowedOrigins={https://a.example.com,http://b.example:8080}"])
    assert listed == "https://a.example.com,http://b.example:8080"
    assert Settings.from_env({"CORS_ALLOWED_ORIGINS": listed}).cors_allowed_origins == (
        "https://a.example.com",
        "http://b.example:8080",
    )
    refused = helm.template_raw(set_values=["config.corsAllowedOrigins={*}"], check=False)
    assert refused.returncode != 0 and "corsAllowedOrigins" in refused.stderr


def test_config_change_rolls_pods(helm, chart):
    def checksums(set_values):
        docs = helm.template(set_values=set_values)
        return {
            doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for doc in docs
            if doc["kind"] == "Deployment"
        }

    before = checksums([])
    after = checksums(["config.logLevel=DEBUG"])
    assert len(before) == 3
    for name in before:
        assert before[name] != after[name], name
    assert checksums([]) == before


# --- API -------------------------------------------------------------------


def test_api_command_matches_dockerfile_cmd(manifests, chart):
    container = only_container(by_component(manifests, "Deployment", "api")["spec"]["template"])
    assert container["command"] == dockerfile_cmd(chart)
    assert "args" not in container


def test_api_probes_and_port(manifests, values):
    deployment = by_component(manifests, "Deployment", "api")
    container = only_container(deployment["spec"]["template"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000, "metrics": values["monitoring"]["metricsPort"]}

    def probe_port(probe):
        port = probe["httpGet"]["port"]
        return ports[port] if isinstance(port, str) else port

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert probe_port(container[probe]) == 8000


def test_api_shutdown_timings_agree(manifests, values):
    """Kubernetes waits for the preStop delay, then gunicorn's graceful timeout, then a
    margin, before it kills an API pod: never before gunicorn is done."""
    api = values["api"]
    spec = by_component(manifests, "Deployment", "api")["spec"]["template"]["spec"]
    container = only_container(by_component(manifests, "Deployment", "api")["spec"]["template"])
    graceful = int(env_map(container)["GRACEFUL_TIMEOUT_SECONDS"]["value"])
    assert graceful == api["gracefulTimeoutSeconds"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop == api["preStopSleepSeconds"] > 0
    assert api["shutdownMarginSeconds"] > 0
    assert spec["terminationGracePeriodSeconds"] >= (
        pre_stop + graceful + api["shutdownMarginSeconds"]
    )


def test_api_grace_period_override_is_kept_when_long_enough(helm):
    docs = helm.template(
        set_values=["api.gracefulTimeoutSeconds=50", "api.terminationGracePeriodSeconds=60"]
    )
    spec = by_component(docs, "Deployment", "api")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 60
    docs = helm.template(set_values=["api.gracefulTimeoutSeconds=50"])
    spec = by_component(docs, "Deployment", "api")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 5 + 50 + 5


def test_service_routes_to_api_port(manifests):
    service = by_component(manifests, "Service", "api")
    deployment = by_component(manifests, "Deployment", "api")
    assert selector_matches(
        {"matchLabels": service["spec"]["selector"]},
        deployment["spec"]["template"]["metadata"]["labels"],
    )
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_ingress_routes_to_service(manifests, values):
    ingress = by_component(manifests, "Ingress", "api")
    service = by_component(manifests, "Service", "api")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == values["ingress"]["host"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {
        "name": service["metadata"]["name"],
        "port": {"name": "http"},
    }


def test_region_ingress_has_tls(rendered, chart, region):
    values = chart.merged_values(region)
    ingress = by_component(rendered[region], "Ingress", "api")
    assert ingress["spec"]["tls"] == [
        {"hosts": [values["ingress"]["host"]], "secretName": values["ingress"]["tls"]["secretName"]}
    ]
    assert values["ingress"]["tls"]["secretName"]


# --- Worker and scheduler --------------------------------------------------


def test_worker_command_and_grace_period(manifests, values):
    deployment = by_component(manifests, "Deployment", "worker")
    spec = deployment["spec"]["template"]["spec"]
    container = only_container(deployment["spec"]["template"])
    assert container["command"] == [
        "rq",
        "worker",
        "--url",
        "$(REDIS_URL)",
        "--worker-class",
        "workers.worker.Worker",
        "default",
    ]
    assert "REDIS_URL" in env_map(container)
    job_timeout = values["worker"]["jobTimeoutSeconds"]
    assert spec["terminationGracePeriodSeconds"] >= job_timeout


def test_worker_grace_period_follows_job_timeout(helm):
    docs = helm.template(set_values=["worker.jobTimeoutSeconds=1800"])
    worker = by_component(docs, "Deployment", "worker")
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 1800
    (configmap,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    assert configmap["data"]["WORKER_JOB_TIMEOUT_SECONDS"] == "1800"


def test_scheduler_runs_exactly_once(manifests):
    deployment = by_component(manifests, "Deployment", "scheduler")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = only_container(deployment["spec"]["template"])
    assert container["command"] == ["python", "-m", "workers.scheduler"]
    assert "REDIS_URL" in env_map(container)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for doc in manifests:
        if doc["kind"] == "HorizontalPodAutoscaler":
            assert doc["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]
        if doc["kind"] == "PodDisruptionBudget":
            assert not selector_matches(doc["spec"]["selector"], labels), doc["metadata"]["name"]


def test_background_processes_have_heartbeat_liveness_probes(manifests, values):
    """A worker or scheduler whose loop stops coming round is restarted; the probe reads
    a file in the pod (never Redis), so a Redis outage restarts nothing."""
    for component in ("worker", "scheduler"):
        template = by_component(manifests, "Deployment", component)["spec"]["template"]
        container = only_container(template)
        settings = values[component]["livenessProbe"]
        probe = container["livenessProbe"]
        assert probe["exec"]["command"] == [
            "python",
            "-m",
            "workers.heartbeat",
            str(settings["heartbeatMaxAgeSeconds"]),
        ]
        # Longer than the longest round of a healthy loop (a minute), twice over.
        assert settings["heartbeatMaxAgeSeconds"] >= 120
        for key in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"):
            assert probe[key] == settings[key], (component, key)
        heartbeat_file = env_map(container)["HEARTBEAT_FILE"]["value"]
        mounts = [mount["mountPath"] for mount in container["volumeMounts"]]
        assert heartbeat_file.startswith("/tmp/") and "/tmp" in mounts, component


def test_the_scheduler_is_ready_while_its_loop_comes_round(manifests, values):
    """Its readiness reads the same heartbeat, sooner than its liveness: a stuck
    scheduler shows not ready before it is restarted."""
    template = by_component(manifests, "Deployment", "scheduler")["spec"]["template"]
    probe = only_container(template)["readinessProbe"]
    settings = values["scheduler"]["readinessProbe"]
    assert probe["exec"]["command"] == [
        "python",
        "-m",
        "workers.heartbeat",
        str(settings["heartbeatMaxAgeSeconds"]),
    ]
    # A healthy loop comes round at least once a minute.
    assert (
        60
        < settings["heartbeatMaxAgeSeconds"]
        < values["scheduler"]["livenessProbe"]["heartbeatMaxAgeSeconds"]
    )


# --- Scaling and disruption ------------------------------------------------


def test_autoscalers_match_values(manifests, values):
    for component in ("api", "worker"):
        deployment = by_component(manifests, "Deployment", component)
        settings = values[component]["autoscaling"]
        hpas = [
            doc
            for doc in manifests
            if doc["kind"] == "HorizontalPodAutoscaler"
            and doc["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        ]
        if settings["enabled"]:
            (hpa,) = hpas
            assert hpa["apiVersion"] == "autoscaling/v2"
            assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            assert hpa["spec"]["minReplicas"] == settings["minReplicas"] >= 1
            assert hpa["spec"]["maxReplicas"] == settings["maxReplicas"] >= settings["minReplicas"]
            # The autoscaler owns the replica count: Helm must not reset it.
            assert "replicas" not in deployment["spec"]
        else:
            assert not hpas
            assert deployment["spec"]["replicas"] == values[component]["replicas"] >= 1


def test_disruption_budgets_for_api_and_worker(manifests):
    for component in ("api", "worker"):
        pdb = by_component(manifests, "PodDisruptionBudget", component)
        labels = pod_labels(manifests, component)
        assert selector_matches(pdb["spec"]["selector"], labels)
        assert pdb["spec"]["maxUnavailable"] >= 1


# --- Network policies ------------------------------------------------------


def egress_ports(policy):
    ports = set()
    for rule in policy["spec"]["egress"]:
        for port in rule["ports"]:
            ports.add((port["protocol"], port["port"]))
    return ports


def test_api_network_policy(manifests, values):
    policy = by_component(manifests, "NetworkPolicy", "api")
    api_labels = pod_labels(manifests, "api")
    assert selector_matches(policy["spec"]["podSelector"], api_labels)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = policy["spec"]["ingress"]
    controller = values["networkPolicy"]["ingressController"]
    assert rule["from"][0] == {
        "namespaceSelector": controller["namespaceSelector"],
        "podSelector": controller["podSelector"],
    }
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    expected = {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 587)}
    assert egress_ports(policy) >= expected


def test_worker_network_policy_denies_ingress(manifests):
    policy = by_component(manifests, "NetworkPolicy", "workers")
    for component in ("worker", "scheduler"):
        labels = pod_labels(manifests, component)
        assert selector_matches(policy["spec"]["podSelector"], labels), component
    api_labels = pod_labels(manifests, "api")
    assert not selector_matches(policy["spec"]["podSelector"], api_labels)
    assert "Ingress" in policy["spec"]["policyTypes"]
    assert not policy["spec"].get("ingress")
    assert egress_ports(policy) >= {("UDP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 587)}


# --- Migration Job ---------------------------------------------------------


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook(manifests, values):
    job = by_component(manifests, "Job", "migrations")
    hooks = job["metadata"]["annotations"]
    assert set(hooks["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(hooks[HOOK_WEIGHT]) == values["migrations"]["hookWeight"]
    assert set(hooks["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] <= 2
    assert job["spec"]["activeDeadlineSeconds"] > 0


def test_migration_job_commands(manifests, values):
    spec = by_component(manifests, "Job", "migrations")["spec"]["template"]["spec"]
    (ensure_roles,) = spec["initContainers"]
    (upgrade,) = spec["containers"]
    # Roles and grants first (init container), then the schema.
    assert ensure_roles["command"] == ["flask", "--app", "wsgi", "db", "ensure-roles"]
    assert upgrade["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    for container in (ensure_roles, upgrade):
        env = env_map(container)
        assert env["REGION"]["value"] == values["region"]
        assert env["APP_ENV"]["value"] == "production"
        assert set(env) >= CONFIG_ENV


def test_migration_job_needs_nothing_created_after_it(manifests):
    """A pre-install hook runs before the release's own resources exist: whatever the
    Job uses that the chart renders must itself be a hook with a lower weight."""
    job = by_component(manifests, "Job", "migrations")
    job_weight = int(job["metadata"]["annotations"][HOOK_WEIGHT])
    spec = job["spec"]["template"]["spec"]
    rendered = {(doc["kind"], doc["metadata"]["name"]): doc for doc in manifests}

    def check(kind, name):
        doc = rendered.get((kind, name))
        if doc is None:
            return  # Not the chart's: must exist before install (documented).
        hooks = doc["metadata"].get("annotations") or {}
        assert {"pre-install", "pre-upgrade"} <= set(hooks.get("helm.sh/hook", "").split(",")), (
            f"{kind}/{name} is used by the migration Job but is not a pre-install hook"
        )
        assert int(hooks[HOOK_WEIGHT]) < job_weight, f"{kind}/{name} weight"

    check("ServiceAccount", spec.get("serviceAccountName", "default"))
    for container in spec["initContainers"] + spec["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                check("ConfigMap", source["configMapRef"]["name"])
            if "secretRef" in source:
                check("Secret", source["secretRef"]["name"])
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                check("ConfigMap", ref["configMapKeyRef"]["name"])
            if "secretKeyRef" in ref:
                check("Secret", ref["secretKeyRef"]["name"])
    # The Job's NetworkPolicy is in place before it starts.
    policy = by_component(manifests, "NetworkPolicy", "migrations")
    assert int(policy["metadata"]["annotations"][HOOK_WEIGHT]) < job_weight
    assert selector_matches(
        policy["spec"]["podSelector"], job["spec"]["template"]["metadata"]["labels"]
    )
    assert ("TCP", 5432) in egress_ports(policy)


def test_only_migration_resources_are_hooks(manifests):
    for doc in manifests:
        hooked = "helm.sh/hook" in (doc["metadata"].get("annotations") or {})
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        assert hooked == (component == "migrations"), f"{doc['kind']}/{doc['metadata']['name']}"


# --- Development Secret ----------------------------------------------------

DEV_SET = [
    "devSecret.create=true",
    "devSecret.data.DATABASE_URL=postgresql+psycopg://app:app@db:5432/msc",
    "devSecret.data.DATABASE_OWNER_URL=postgresql+psycopg://owner:owner@db:5432/msc",
    "devSecret.data.DATABASE_ADMIN_URL=postgresql+psycopg://postgres:postgres@db:5432/msc",
    "devSecret.data.REDIS_URL=redis://redis:6379/0",
    "devSecret.data.JWT_SECRET_KEY=development-only-key-development-only-key",
    "devSecret.data.OUTBOX_SECRET_KEY=development-only-key-development-only-key",
    "devSecret.data.MFA_ENCRYPTION_KEY=development-only-key-development-only-key",
    f"devSecret.data.DOCUMENT_ENCRYPTION_KEYS={DOCUMENT_KEYS}",
    "devSecret.data.TENANT_CONTEXT_KEY=development-only-key-development-only-key",
]


@pytest.fixture(scope="module")
def dev_manifests(helm):
    return helm.template(set_values=DEV_SET)


def test_dev_secret_is_off_by_default(rendered):
    assert not [doc for doc in rendered["default"] if doc["kind"] == "Secret"]


def test_dev_secret_is_a_hook_before_the_job(dev_manifests, chart):
    (secret,) = [doc for doc in dev_manifests if doc["kind"] == "Secret"]
    kubernetes_validate.validate(secret, chart.kube_version, strict=True)
    assert set(secret["stringData"]) == SECRET_ENV
    job = by_component(dev_manifests, "Job", "migrations")
    hooks = secret["metadata"]["annotations"]
    assert set(hooks["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(hooks[HOOK_WEIGHT]) < int(job["metadata"]["annotations"][HOOK_WEIGHT])
    for _, template in pod_specs_of(dev_manifests):
        for container in all_containers(template):
            for name, entry in env_map(container).items():
                if name in SECRET_ENV:
                    assert entry["valueFrom"]["secretKeyRef"] == {
                        "name": secret["metadata"]["name"],
                        "key": name,
                    }


def test_dev_secret_requires_its_data(helm):
    result = helm.template_raw(set_values=["devSecret.create=true"], check=False)
    assert result.returncode != 0
    assert "devSecret.data.DATABASE_URL is required" in result.stderr


# --- Variations --------------------------------------------------------------


def test_existing_service_account(helm, chart):
    docs = helm.template(
        set_values=["serviceAccount.create=false", "serviceAccount.name=msc-runtime"]
    )
    assert not [doc for doc in docs if doc["kind"] == "ServiceAccount"]
    for _, template in pod_specs_of(docs):
        assert template["spec"]["serviceAccountName"] == "msc-runtime"


def test_network_policy_can_be_disabled(helm):
    docs = helm.template(set_values=["networkPolicy.enabled=false"])
    assert not [doc for doc in docs if doc["kind"] == "NetworkPolicy"]


def test_custom_secret_keys_and_image_digest(helm, chart):
    digest = "sha256:" + "a" * 64
    docs = helm.template(
        set_values=[
            "secrets.database.existingSecret=pg-credentials",
            "secrets.database.keys.url=app-url",
            f"image.digest={digest}",
        ]
    )
    for doc in docs:
        kubernetes_validate.validate(doc, chart.kube_version, strict=True)
    api = only_container(by_component(docs, "Deployment", "api")["spec"]["template"])
    assert env_map(api)["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "pg-credentials",
        "key": "app-url",
    }
    assert api["image"] == f"msc/organizations@{digest}"
