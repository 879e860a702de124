"""Pagination of SQLAlchemy 2 select() statements for flask-smorest's @blp.paginate."""

from __future__ import annotations

from typing import Any

from flask_smorest import Page
from sqlalchemy import func, select

from app.extensions import db


class SelectPage(Page):  # type: ignore[misc]
    """The view returns a Select; this runs it for one page, and a count() for the total.
    A select of one model yields instances; a select of several columns yields rows."""

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        if params.first_item >= params.item_count:
            return []  # past the end (however far: no offset reaches the database)
        statement = self.collection.offset(params.first_item).limit(params.page_size)
        if len(statement.column_descriptions) == 1:
            return list(db.session.scalars(statement))
        return list(db.session.execute(statement))

    @property
    def item_count(self) -> int:
        counted = select(func.count()).select_from(self.collection.order_by(None).subquery())
        return int(db.session.scalar(counted) or 0)
