from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class UsState(Base):
    """Reference data: US states and territories with their Medicare A/B MAC jurisdiction."""

    __tablename__ = "us_states"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    mac_jurisdiction: Mapped[str | None] = mapped_column(String(10))
