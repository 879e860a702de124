"""A database belongs to one region: the migration step claims it, and a deployment of
another region refuses to start on it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app import migrate
from app.config import Settings
from app.factory import create_app
from app.local import DatabaseUrls
from app.region import RegionMismatch


def test_application_refuses_another_regions_database(settings: Settings) -> None:
    assert create_app(settings).config["REGION"] == "test"
    with pytest.raises(RegionMismatch, match="belongs to region 'test'"):
        create_app(replace(settings, region="eu-central"))


def test_migration_step_refuses_to_claim_a_claimed_database(database_urls: DatabaseUrls) -> None:
    migrate.upgrade(database_urls.owner, region="test")  # the same region: fine, idempotent
    with pytest.raises(RegionMismatch):
        migrate.upgrade(database_urls.owner, region="us-west")
