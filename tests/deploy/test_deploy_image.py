"""The container image definition, read statically (no container runtime needed)."""

from __future__ import annotations

import ast
import json
import re
import runpy
import sys


def instructions(chart) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, rest), continuation lines joined."""
    text = chart.dockerfile.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def final_stage(chart) -> list[tuple[str, str]]:
    steps = instructions(chart)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_base_image_is_python_311_slim(chart):
    bases = [rest.split()[0] for keyword, rest in instructions(chart) if keyword == "FROM"]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases), bases


def test_runs_as_numeric_non_root_user(chart):
    users = [rest for keyword, rest in final_stage(chart) if keyword == "USER"]
    assert users, "no USER in the final stage"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)
    # The chart runs the pods as the same user.
    values = chart.load_yaml(chart.chart_dir / "values.yaml")
    assert int(user) == values["securityContext"]["runAsUser"]


def test_installs_the_project_without_dev_extras(chart):
    runs = " ".join(rest for keyword, rest in instructions(chart) if keyword == "RUN")
    assert re.search(r"pip install (--\S+ )*\.(\s|$)", runs), runs
    assert "[dev" not in runs and "[local" not in runs
    assert "-e ." not in runs and "--editable" not in runs


def test_copies_runtime_files_into_app(chart):
    stage = final_stage(chart)
    assert ("WORKDIR", "/app") in stage
    copied = " ".join(rest for keyword, rest in stage if keyword == "COPY")
    runtime = ("app", "workers", "wsgi.py", "gunicorn.conf.py", "alembic.ini", "migrations")
    for path in (*runtime, "policies"):
        assert re.search(rf"(^|\s){re.escape(path)}(\s|$)", copied), path


def test_exposes_port_8000(chart):
    assert ("EXPOSE", "8000") in final_stage(chart)


def test_cmd_is_gunicorn_on_port_8000(chart):
    (cmd,) = [rest for keyword, rest in final_stage(chart) if keyword == "CMD"]
    assert json.loads(cmd) == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
    config = runpy.run_path(str(chart.repo_root / "gunicorn.conf.py"))
    assert config["bind"] == "0.0.0.0:8000"
    assert config["workers"] == 2
    assert config["accesslog"] is None  # the application logs each request itself
    # The chart's default graceful timeout is the application's own.
    values = chart.load_yaml(chart.chart_dir / "values.yaml")
    assert config["graceful_timeout"] == values["api"]["gracefulTimeoutSeconds"]


def test_dockerignore_excludes_local_state(chart):
    entries = {
        line.strip().rstrip("/")
        for line in chart.dockerignore.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".local", ".tools", "tests", ".git"} <= entries
    # Needed by the build.
    needed = {"app", "workers", "migrations", "policies", "pyproject.toml", "README.md"}
    assert not {*needed, "gunicorn.conf.py"} & entries


def test_fetch_script_uses_only_the_standard_library(chart):
    tree = ast.parse(chart.fetch_script.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    modules.discard("__future__")
    assert modules <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)


def test_fetched_helm_is_pinned(helm, helm_path, chart):
    assert helm_path == chart.repo_root / ".tools" / "bin" / "helm"
    version = helm.run("version", "--template", "{{ .Version }}").stdout.strip()
    source = chart.fetch_script.read_text()
    assert f'HELM_VERSION = "{version}"' in source


def test_builds_the_console_into_the_image(chart):
    """The console is built in a stage of its own, with the Node.js the project pins for
    `make install` (the `console` extra), and only its build reaches /app, where the
    service looks for it (app/blueprints/console.py: DEFAULT_BUILD)."""
    steps = instructions(chart)
    stages = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    (start,) = [i for i in stages if steps[i][1].endswith(" AS console")]
    end = min((i for i in stages if i > start), default=len(steps))
    runs = " ".join(rest for keyword, rest in steps[start:end] if keyword == "RUN")
    assert "['optional-dependencies']['console']" in runs
    assert "npm ci" in runs and "npm run build" in runs
    copies = [rest for keyword, rest in final_stage(chart) if keyword == "COPY"]
    assert "--from=console /src/console/dist ./console/dist" in copies
    # A local build or its packages never ride along in the context.
    ignored = chart.dockerignore.read_text().split()
    assert {"console/node_modules", "console/dist"} <= set(ignored)
