# MSC Customer & Organization Management backend.
#
# Build:  docker build -t msc/organizations:<version> .
# The Helm chart (helm/msc-organizations) runs this image as the API, the RQ
# worker, the scheduler and the migration Job, with a read-only root
# filesystem and an emptyDir at /tmp.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
# Runtime dependencies only (no dev or local extras), into a virtualenv that
# the runtime stage copies whole. The project's own code runs from /app (see
# below), so its installed copy is removed again: one copy of the code only.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes msc-organizations \
    && /opt/venv/bin/python -m compileall -q /opt/venv


# The administration console (console/), built with the Node.js that the project's
# `console` extra pins (from PyPI, as `make install` does), its packages exactly as the
# lockfile says. Only the build (console/dist) goes into the image.
FROM python:3.11-slim AS console

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false

WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['console'])" \
    | xargs pip install
COPY console/package.json console/package-lock.json ./console/
RUN cd console && npm ci --no-audit --no-fund
COPY console ./console
RUN cd console && npm run build


FROM python:3.11-slim

# The application finds alembic.ini, migrations/ and policies/ beside its
# package directory, so the packages live in /app next to them and /app is
# first on the import path for every entry point (gunicorn, flask, rq).
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY app ./app
COPY workers ./workers
COPY wsgi.py gunicorn.conf.py alembic.ini ./
COPY migrations ./migrations
COPY policies ./policies
COPY --from=console /src/console/dist ./console/dist
RUN python -m compileall -q /app

# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 10001:10001

EXPOSE 8000

# Port 8000, two workers, and graceful shutdown: gunicorn.conf.py.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
