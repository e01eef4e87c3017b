# Bastion's container images, built from one builder stage:
#
#   docker build --target app   -t bastion:local .        # gunicorn + the app
#   docker build --target nginx -t bastion-nginx:local .  # nginx + the built /static/dist
#
# `app` is the last stage, so a plain `docker build .` makes the app image.
# compose.yaml builds both. The base images are pinned by tag: the Python
# minor version and the Debian release never change under us, while a rebuild
# still picks up the security updates published under the same tag. Pin by
# digest as well (FROM image:tag@sha256:...) if you need bit-for-bit rebuilds.

# ---------------------------------------------------------------------------
# builder: the locked dependencies in a virtualenv, the project, the assets.
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/srv/bastion \
    PATH="/opt/venv/bin:$PATH"

RUN python -m venv /opt/venv

WORKDIR /srv/bastion

# Dependencies first (their own layer, rebuilt only when the lock changes).
# --require-hashes: every file pip downloads must match a hash in the lock.
# --no-deps: nothing outside the lock is installed.
# --only-binary=:all:: wheels only, so no compiler is ever needed (this stage
# has none either); a dependency without a wheel for the platform fails here
# with a clear message instead of half-way through a C build.
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps --require-hashes --only-binary=:all: \
        -r requirements.lock

# The project itself is not pip-installed: it runs from /srv/bastion
# (PYTHONPATH), so there is one copy of `app`, the one next to migrations/
# and the built assets, and no unhashed build backend is downloaded.
COPY wsgi.py ./
COPY migrations/ migrations/
COPY deploy/gunicorn.conf.py deploy/
COPY app/ app/

# Content-hashed bundles into app/static/dist (the production command), then
# bytecode for the app's own code (the app user can't write __pycache__ at
# run time).
# SECRET_KEY/TRUSTED_HOSTS: throw-away values, only as long as `flask assets
# build` still checks the settings a page server needs. They live in this one
# command's environment: not in ENV, not in any file, and this stage is never
# shipped. A real SECRET_KEY is never baked into an image.
RUN BASTION_CONFIG=production FLASK_APP=app \
        SECRET_KEY=assets-build-only-not-a-secret-0123456789 TRUSTED_HOSTS=localhost \
        flask assets build \
    && python -m compileall -q --invalidation-mode checked-hash app migrations wsgi.py

# ---------------------------------------------------------------------------
# nginx: the reverse proxy with the same built /static/dist as the app image.
# ---------------------------------------------------------------------------
# Why a stage rather than a volume shared with the app containers: a named
# volume is filled from the image only when it is first created, so after
# an upgrade it would keep serving the old bundles while the app's HTML
# names the new ones. Copying from the same builder stage gives nginx exactly
# the files whose hashes the app's manifest names, at every build.
# The configuration (deploy/nginx/bastion.conf, the upstream list, the
# certificates) is mounted by compose.yaml, so that editing server_name or
# swapping certificates needs no rebuild.
FROM nginx:1.26-bookworm AS nginx

# The image's default server would answer on port 80 in place of Bastion's.
RUN rm /etc/nginx/conf.d/default.conf

# The directory deploy/nginx/bastion.conf's bundle location aliases.
COPY --from=builder /srv/bastion/app/static/dist/ /srv/bastion/app/static/dist/

# ---------------------------------------------------------------------------
# app: the image that runs. Slim Python, no compilers, no build tools: only
# the virtualenv, the code, the migrations and the built assets.
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS app

LABEL org.opencontainers.image.title="Bastion" \
      org.opencontainers.image.description="A secure-by-default Flask + Bootstrap application"

# GUNICORN_BIND: deploy/gunicorn.conf.py binds 127.0.0.1:8000 by default, so
# that on a host only the local nginx can reach gunicorn. Inside a container
# loopback is the container's own, unreachable from nginx's container, so the
# image listens on every interface of the container. That is still not the
# host's network: the port is only reachable on the compose network (compose
# publishes nginx's ports, never this one), and `docker run` exposes it only
# if you add -p yourself. Don't publish 8000: nginx must be the only client.
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONPATH=/srv/bastion \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BASTION_CONFIG=production \
    FLASK_APP=app \
    GUNICORN_BIND=0.0.0.0:8000

# A system user with no shell, no home and no password, and a fixed uid so
# that Kubernetes' runAsNonRoot and file permissions on volumes can rely on it.
RUN groupadd --system --gid 10001 bastion \
    && useradd --system --uid 10001 --gid bastion --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin bastion

WORKDIR /srv/bastion

# Everything is owned by root and read-only for the app: a compromised
# process can't rewrite its own code, templates or assets.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv/bastion/wsgi.py ./
COPY --from=builder /srv/bastion/deploy/gunicorn.conf.py deploy/
COPY --from=builder /srv/bastion/migrations/ migrations/
COPY --from=builder /srv/bastion/app/ app/

USER 10001:10001

EXPOSE 8000

# Liveness: GET /healthz (no I/O; exempt from rate limits and the HTTPS
# redirect). Python's urllib, since the slim image has no curl. The Host
# header is the first TRUSTED_HOSTS entry: any other host gets a 400 by
# design. Proxies from the environment are ignored (ProxyHandler({})).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; host = os.environ.get('TRUSTED_HOSTS', '').split(',')[0].strip().lstrip('.*') or 'localhost'; port = os.environ.get('GUNICORN_BIND', ':8000').rpartition(':')[2]; u.build_opener(u.ProxyHandler({})).open(u.Request(f'http://127.0.0.1:{port}/healthz', headers={'Host': host}), timeout=4)"]

# gunicorn handles SIGTERM (docker stop) as a graceful shutdown: requests in
# flight get graceful_timeout (30 s) to finish.
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
