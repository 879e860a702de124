"""The administration console: a single-page app (console/, React and TypeScript) served
at /console/ by the same service, under a policy of its own (app/security_headers.py).

The app is built by `npm run build` in console/ (`make install` runs it) into
console/dist, which is not committed. Its files are served as built; any other address
under /console/ is one of the app's own screens, so it gets the app's page, which then
shows the screen. The app calls the documented API only, with the tokens a browser app
should hold (app/auth/refresh_cookie.py): it has no route of its own here.

Without a build, /console/ answers 503 saying how to make one; the API is unaffected.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_from_directory
from werkzeug.security import safe_join

from app.problems import problem

# Where `npm run build` writes the app; the app config's CONSOLE_BUILD says otherwise.
DEFAULT_BUILD = Path(__file__).resolve().parents[2] / "console" / "dist"
CONSOLE_BUILD = "CONSOLE_BUILD"
# Vite names the bundles it writes here by their content: a new build has new names, so
# a browser may keep these for good. The page that names them is checked every time.
_HASHED_ASSETS = "assets/"
_A_YEAR = 365 * 24 * 3600

blp = Blueprint("console", __name__)


def init_console(app: Flask) -> None:
    app.config.setdefault(CONSOLE_BUILD, DEFAULT_BUILD)
    app.register_blueprint(blp)


@blp.get("/console/", defaults={"path": ""})
@blp.get("/console/<path:path>")
def console(path: str) -> Response:
    build = Path(current_app.config[CONSOLE_BUILD])
    if not (build / "index.html").is_file():
        return problem(
            503,
            "the console is not built: run `make install`, or `npm ci && npm run build` "
            "in console/ (Node.js 20 or later)",
        )
    found = safe_join(str(build), path) if path else None
    if found is not None and Path(found).is_file():
        max_age = _A_YEAR if path.startswith(_HASHED_ASSETS) else 0
        return send_from_directory(build, path, max_age=max_age)
    if path.startswith(_HASHED_ASSETS):
        return problem(404, f"no such file of the console: {path}")
    page = send_from_directory(build, "index.html", max_age=0)
    page.headers["Cache-Control"] = "no-cache"
    return page
