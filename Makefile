# Bastion: `make run` starts the development server, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := BASTION_CONFIG=development FLASK_APP=app $(BIN)/flask

.PHONY: run test lint install install-dev assets vendor-assets vendor-tools db admin check-deploy \
	bench bench-load lock clean audit audit-tools observatory lighthouse

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies come from the hashed lock files (`make lock` refreshes them);
# the project itself is installed without dependencies on top.
$(VENV)/.installed-run: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

# The scanners of `make audit` that come from PyPI (semgrep) live in a venv of
# their own: semgrep pins click and wrapt below what the app runs with.
AUDIT_VENV := .venv-audit
$(AUDIT_VENV)/.installed: audit/requirements.lock
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r audit/requirements.lock
	touch $@
audit-tools: $(AUDIT_VENV)/.installed

# The MDN HTTP Observatory (npm, pinned by audit/observatory/package-lock.json),
# without its install scripts (they download the HSTS preload list; an empty
# one is written instead). Without npm the Observatory tests skip (fail in CI).
observatory: audit/observatory/node_modules/.installed
audit/observatory/node_modules/.installed: audit/observatory/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd audit/observatory && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  && echo '{}' > node_modules/@mdn/mdn-http-observatory/conf/hsts-preload.json \
	  && touch node_modules/.installed; \
	else echo "npm not found: the Observatory tests will be skipped (apt-get install nodejs npm)"; fi

# Lighthouse (npm, pinned by audit/lighthouse/package-lock.json), without
# install scripts (none of its packages needs one; it drives Debian's Chromium,
# CHROME_PATH=/usr/bin/chromium, and downloads no browser). Without npm or
# Chromium, `make audit` and its test skip Lighthouse (fail in CI).
lighthouse: audit/lighthouse/node_modules/.installed
audit/lighthouse/node_modules/.installed: audit/lighthouse/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd audit/lighthouse && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  && touch node_modules/.installed; \
	else echo "npm not found: Lighthouse will be skipped (apt-get install nodejs npm chromium)"; fi

# The trimmed Bootstrap (assets/: Dart Sass and esbuild, pinned by package-lock.json).
# Its output, app/static/src/vendor/, is committed: `make run` needs no Node.js.
# Without npm, the test that rebuilds it and compares is skipped (fails in CI).
vendor-tools: assets/node_modules/.installed
assets/node_modules/.installed: assets/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd assets && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  && touch node_modules/.installed; \
	else echo "npm not found: the vendor build test will be skipped (apt-get install nodejs npm)"; fi

## vendor-assets: rebuild app/static/src/vendor/ (Bootstrap's Sass and JS) after changing
## assets/ (needs Node.js and npm); commit the result
vendor-assets: vendor-tools
	@command -v node >/dev/null 2>&1 || { echo "vendor-assets needs Node.js and npm (apt-get install nodejs npm)"; exit 1; }
	node assets/build.mjs

## run: install, build assets, migrate SQLite, serve on http://127.0.0.1:5000
run: install
	$(FLASK) assets build
	$(FLASK) db upgrade
	$(FLASK) run --host 127.0.0.1 --port 5000 --debug

## test: the whole suite with branch coverage (deployment, Observatory and semgrep
## included), then the browser tests, then ruff and bandit. The in-process tests
## run on every core (pytest-xdist); the deployment tests run afterwards on a quiet
## machine: beside them, a worker killed mid-response in test_faults cut a body
## nginx had begun. The browser tests (Debian's Chromium through Playwright, their
## own stack) come last and outside coverage; screenshots go to screenshots/.
test: install-dev audit-tools observatory lighthouse vendor-tools
	$(BIN)/python -m pytest -n auto -m "not deployment and not browser" --cov --cov-report=
	$(BIN)/python -m pytest -m deployment --cov --cov-append --cov-report=term
	$(BIN)/python -m pytest -m browser tests/browser
	$(MAKE) lint

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit --quiet -c pyproject.toml -r app flask_bastion wsgi.py audit

assets: install
	$(FLASK) assets build

db: install
	$(FLASK) db upgrade

## admin: create the first administrator of the `make run` instance (asks for a password)
admin: install
	$(FLASK) db upgrade
	$(FLASK) users create "$${EMAIL:?usage: make admin EMAIL=you@example.com NAME=You}" --name "$${NAME:-Admin}" --admin

## check-deploy: audit the configuration the production app would run with
check-deploy: install
	BASTION_CONFIG=production FLASK_APP=app $(BIN)/flask check --deploy

## lock: refresh requirements.lock and requirements-dev.lock from pyproject.toml
lock: install-dev
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes --quiet -o requirements-dev.lock

## bench: /, /stories/ and /healthz in production config (PostgreSQL, Redis, br) against
## bare Flask under the same gunicorn, then the story list at 100 and 100,000 stories
bench: install-dev
	$(BIN)/python bench/home_vs_bare.py
	$(BIN)/python bench/story_list_scale.py

## bench-load: wrk through nginx (TLS) to two gunicorn instances on PostgreSQL and
## Redis: 3 runs of 60 s x 64 connections per page, requests/s, latency, errors, memory
bench-load: install-dev
	$(BIN)/python bench/load.py

## audit: semgrep, the Observatory on every page, Lighthouse (mobile) on four pages,
## the home page's first-visit bytes, sqlmap and wapiti against the production stack
## on loopback (nginx, TLS, two instances, PostgreSQL, Redis); prints the scores,
## exits non-zero below target (needs: apt-get install sqlmap wapiti chromium).
## One part alone: make audit AUDIT_ARGS="--only lighthouse --only weight"
audit: install-dev audit-tools observatory lighthouse
	$(BIN)/python audit/run.py $(AUDIT_ARGS)

clean:
	rm -rf $(VENV) $(AUDIT_VENV) audit/observatory/node_modules audit/lighthouse/node_modules \
		assets/node_modules audit-reports screenshots app/static/dist .pytest_cache .ruff_cache .coverage htmlcov
