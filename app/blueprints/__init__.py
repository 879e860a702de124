"""HTTP resources: one flask-smorest blueprint per resource."""

from flask_smorest import Api

from app.blueprints import (
    audit_events,
    auth,
    facilities,
    health,
    invitations,
    me,
    organizations,
    providers,
)


def register_blueprints(api: Api) -> None:
    for module in (
        health,
        auth,
        me,
        organizations,
        facilities,
        providers,
        invitations,
        audit_events,
    ):
        api.register_blueprint(module.blp)
