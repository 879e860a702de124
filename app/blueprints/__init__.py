"""HTTP resources: one flask-smorest blueprint per resource."""

from flask_smorest import Api

from app.blueprints import (
    audit_events,
    auth,
    compliance,
    credentials,
    facilities,
    health,
    invitations,
    me,
    onboarding,
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
        credentials,
        onboarding,
        compliance,
        audit_events,
    ):
        api.register_blueprint(module.blp)
