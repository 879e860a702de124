"""Fixtures for the Helm chart tests.

The tests run the real helm binary: the `helm` fixture runs
scripts/fetch_helm.py, which installs the pinned binary into .tools/bin on
first use (a few seconds) and is a no-op afterwards.

Chart variants rendered by the tests:
- "default": the chart's values.yaml alone;
- one per region: values.yaml + values-<region>.yaml.
Test functions that take a `variant` argument run once per variant, and
those that take `region` once per region file.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "msc-organizations"
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch_helm.py"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

REGIONS = ("us-east", "us-west", "eu-central")
VARIANTS = ("default", *REGIONS)
# Kubernetes version the chart is rendered and validated for.
KUBE_VERSION = "1.35.0"
NAMESPACE = "msc-organizations"


def release_name(variant: str) -> str:
    return "msc-local" if variant == "default" else f"msc-{variant}"


def values_files(variant: str) -> list[Path]:
    if variant == "default":
        return []
    return [CHART_DIR / f"values-{variant}.yaml"]


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm merges values files: maps recursively, everything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merged_values(variant: str) -> dict[str, Any]:
    values = load_yaml(CHART_DIR / "values.yaml")
    for path in values_files(variant):
        values = deep_merge(values, load_yaml(path) or {})
    return values


class HelmError(AssertionError):
    """helm exited non-zero; carries its output."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"helm {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        self.result = result


@dataclass(frozen=True)
class Helm:
    binary: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO_ROOT,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise HelmError(args, result)
        return result

    @staticmethod
    def _value_args(
        files: Iterable[Path] = (), set_values: Iterable[str] = (), set_json: Iterable[str] = ()
    ) -> list[str]:
        args: list[str] = []
        for path in files:
            args += ["--values", str(path)]
        for item in set_values:
            args += ["--set", item]
        for item in set_json:
            args += ["--set-json", item]
        return args

    def template_raw(
        self,
        files: Iterable[Path] = (),
        set_values: Iterable[str] = (),
        set_json: Iterable[str] = (),
        release: str = "msc-test",
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "template",
            release,
            str(CHART_DIR),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBE_VERSION,
            *self._value_args(files, set_values, set_json),
            check=check,
        )

    def template(
        self,
        files: Iterable[Path] = (),
        set_values: Iterable[str] = (),
        set_json: Iterable[str] = (),
        release: str = "msc-test",
    ) -> list[dict[str, Any]]:
        """Render the chart and return the parsed manifests (empty documents dropped)."""
        result = self.template_raw(files, set_values, set_json, release=release)
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def lint(
        self,
        files: Iterable[Path] = (),
        set_values: Iterable[str] = (),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "lint",
            "--strict",
            "--kube-version",
            KUBE_VERSION,
            str(CHART_DIR),
            *self._value_args(files, set_values),
            check=check,
        )


def fetch_helm() -> Path:
    result = subprocess.run(
        [sys.executable, str(FETCH_SCRIPT)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"scripts/fetch_helm.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"scripts/fetch_helm.py printed no path:\n{result.stderr}")
    path = Path(lines[-1])
    if not path.is_file():
        raise RuntimeError(f"scripts/fetch_helm.py printed {path}, which does not exist")
    return path


@pytest.fixture(scope="session")
def helm_path() -> Path:
    """Path of the pinned helm binary (downloaded on first use)."""
    return fetch_helm()


@pytest.fixture(scope="session")
def helm(helm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm with its own empty config/cache/data folders and no cluster access."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HELM_", "KUBE"))}
    env.update(
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
        KUBECONFIG=str(home / "no-kubeconfig"),
        HOME=str(home),
    )
    return Helm(binary=helm_path, env=env)


@pytest.fixture(scope="session")
def rendered(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    """Parsed manifests of every variant, rendered once per session."""
    return {
        variant: helm.template(values_files(variant), release=release_name(variant))
        for variant in VARIANTS
    }


@pytest.fixture
def manifests(rendered: dict[str, list[dict[str, Any]]], variant: str) -> list[dict[str, Any]]:
    return rendered[variant]


@pytest.fixture
def values(variant: str) -> dict[str, Any]:
    """Effective values of a variant (values.yaml merged with its region file)."""
    return merged_values(variant)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/deploy is a chart test: marked `deploy`."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.deploy)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", VARIANTS)
    if "region" in metafunc.fixturenames:
        metafunc.parametrize("region", REGIONS)


class ChartPaths:
    """Chart paths and helpers, handed to test modules as the `chart` fixture
    (test modules cannot import this conftest)."""

    values_files = staticmethod(values_files)
    merged_values = staticmethod(merged_values)
    load_yaml = staticmethod(load_yaml)
    release_name = staticmethod(release_name)
    chart_dir = CHART_DIR
    repo_root = REPO_ROOT
    dockerfile = DOCKERFILE
    dockerignore = DOCKERIGNORE
    fetch_script = FETCH_SCRIPT
    kube_version = KUBE_VERSION
    regions = REGIONS
    variants = VARIANTS


@pytest.fixture(scope="session")
def chart() -> ChartPaths:
    return ChartPaths()
