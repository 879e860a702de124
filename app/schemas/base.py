"""The base of every schema: text that PostgreSQL cannot store is refused up front."""

from __future__ import annotations

from typing import Any

import marshmallow
from marshmallow import ValidationError, pre_load


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class Schema(marshmallow.Schema):
    @pre_load
    def _refuse_nul_characters(self, data: Any, **_kwargs: Any) -> Any:
        if hasattr(data, "items"):
            bad = {
                key: ["contains a NUL character"] for key, value in data.items() if _has_nul(value)
            }
            if bad:
                raise ValidationError(bad)
        return data
