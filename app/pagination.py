"""Pagination of SQLAlchemy 2 select() statements for flask-smorest's @blp.paginate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_smorest import Page
from flask_smorest.pagination import PaginationMixin, PaginationParameters
from sqlalchemy import ColumnElement, Result, Row, Select, func, select

from app.extensions import db

# OFFSET and LIMIT are bigints: a page beyond is past the end of any collection.
BIGINT_MAX = 2**63 - 1
# The label of the total that rides along with each row of the page; no collection has
# a column of that name.
TOTAL = "page_total__"


# X-Pagination as sent: flask-smorest writes the page's metadata as JSON text in the
# header (`_set_pagination_metadata`), which its own documentation calls an object.
PAGINATION_HEADER = {
    "description": "The page's place in the collection, as a JSON object in text: `total`"
    " (items), `total_pages`, `first_page`, `last_page`, `page`, and `previous_page`"
    " and `next_page` where there is one.",
    "schema": {"type": "string"},
}


class DocumentedPagination:
    """For blueprints: X-Pagination documented as the text it is."""

    def _document_pagination_metadata(self, _spec: Any, resp_doc: dict[str, Any]) -> None:
        headers = resp_doc.setdefault("headers", {})
        headers[PaginationMixin.PAGINATION_HEADER_NAME] = PAGINATION_HEADER


class SelectPage(Page):  # type: ignore[misc]
    """The view returns a Select; this runs it for one page with the total alongside
    (count(*) OVER (): one statement, one pass over what the policies let through). A
    page past the end has no row to carry the total, so only then does a count() ask
    for it; so does a DISTINCT select, whose duplicates a window would count.

    A select of one model yields instances; a select of several columns yields its
    rows as dicts (name to value), which the schemas read directly, without the
    attribute fallback a row costs them on every field."""

    def __init__(self, collection: Select[Any], page_params: PaginationParameters) -> None:
        first, size = page_params.first_item, page_params.page_size
        selected = collection._raw_columns  # what the select names, cheaper than its descriptions
        # Only columns (no model): rows that need none of the ORM's execution.
        plain = all(isinstance(column, ColumnElement) for column in selected)
        rows: Sequence[Row[Any]] = []
        keys: tuple[str, ...] = ()
        if first + size > BIGINT_MAX:
            self._total = _count(collection)  # no row that far
        elif collection._distinct or collection._distinct_on:
            self._total = _count(collection)
            page = _execute(collection.offset(first).limit(size), plain)
            rows, keys = page.all(), tuple(page.keys())
        else:
            with_total = collection.add_columns(func.count().over().label(TOTAL))
            page = _execute(with_total.offset(first).limit(size), plain)
            rows, keys = page.all(), tuple(page.keys())
            if rows:
                self._total = int(rows[0][-1])
            else:
                self._total = _count(collection) if first > 0 else 0
        if len(selected) == 1:
            self._items: list[Any] = [row[0] for row in rows]
        else:
            self._items = [dict(zip(keys, row, strict=True)) for row in rows]
        super().__init__(collection, page_params)

    @property
    def items(self) -> list[Any]:
        return self._items

    @property
    def item_count(self) -> int:
        return self._total


def _execute(statement: Select[Any], plain: bool) -> Result[Any]:
    """A `plain` select (of columns only) goes through the session's connection (in its
    transaction, with its context), without the ORM's execution, which only instances
    need."""
    session = db.session
    if not plain:
        return session.execute(statement)
    session.flush()  # what the session's own execution would do first
    return session.connection().execute(statement)


def _count(collection: Select[Any]) -> int:
    counted = select(func.count()).select_from(collection.order_by(None).subquery())
    return int(db.session.scalar(counted) or 0)
