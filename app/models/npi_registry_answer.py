from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class NpiRegistryAnswer(Base):
    """The NPPES NPI Registry's last answer for a number: public data, shared by all
    tenants, kept so a number is not looked up again while the answer is fresh."""

    __tablename__ = "npi_registry_answers"

    npi: Mapped[str] = mapped_column(String(10), primary_key=True)
    # The registry's result for the number, or {} when it knows none.
    answer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
