from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused a change; `field` names the offending input."""

    def __init__(self, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
