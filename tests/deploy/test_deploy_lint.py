"""helm lint --strict on the chart with its default values and each region file."""

from __future__ import annotations

import base64


def test_lint_default_values(helm, chart):
    result = helm.lint()
    assert "0 chart(s) failed" in result.stdout


def test_lint_region(helm, chart, region):
    result = helm.lint(chart.values_files(region))
    assert "0 chart(s) failed" in result.stdout


def test_lint_rejects_missing_region(helm):
    result = helm.lint(set_values=["region=null"], check=False)
    assert result.returncode != 0
    assert "region" in result.stdout + result.stderr


def test_lint_development_secret_mode(helm):
    result = helm.lint(
        set_values=[
            "devSecret.create=true",
            "devSecret.data.DATABASE_URL=postgresql+psycopg://app:app@db:5432/msc",
            "devSecret.data.DATABASE_OWNER_URL=postgresql+psycopg://owner:owner@db:5432/msc",
            "devSecret.data.DATABASE_ADMIN_URL=postgresql+psycopg://postgres:postgres@db:5432/msc",
            "devSecret.data.REDIS_URL=redis://redis:6379/0",
            "devSecret.data.JWT_SECRET_KEY=development-only-key-development-only-key",
            "devSecret.data.OUTBOX_SECRET_KEY=development-only-key-development-only-key",
            "devSecret.data.MFA_ENCRYPTION_KEY=development-only-key-development-only-key",
            "devSecret.data.DOCUMENT_ENCRYPTION_KEYS=development:"
            + base64.b64encode(bytes(32)).decode(),
            "devSecret.data.TENANT_CONTEXT_KEY=development-only-key-development-only-key",
        ]
    )
    assert "0 chart(s) failed" in result.stdout
