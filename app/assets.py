"""CSS and JavaScript bundles: merged, minified, content-hashed, with SRI.

Flask-Assets (webassets) builds six bundles into ``app/static/dist/``:

* ``vendor_css`` / ``vendor_js``: ``app/static/src/vendor/bootstrap.css`` and
  ``bootstrap.js``, only the parts of Bootstrap 5.3 the templates use (with
  Bastion's colour, focus and story styles) and only its Alert, Collapse and
  Modal scripts, no Popper.  ``make vendor-assets`` regenerates them with Node
  (Dart Sass and esbuild, pinned in ``assets/package-lock.json``); they are
  committed, so building and running the app needs Python only, and no CDN;
* ``custom_css`` / ``custom_js``: ``app/static/src/css/*.css`` and
  ``app/static/src/js/*.js``, plain files edited by hand;
* ``nojs_css``: ``app/static/src/nojs/*.css``, loaded inside ``<noscript>`` only
  (the navbar menu shown open, since its toggler needs JavaScript);
* ``passkeys_js``: ``app/static/src/js/pages/passkeys.js``, loaded only by the
  pages that use passkeys (sign-in, its second step, the passkeys page), so
  other pages, the home page first, don't carry it.

Each file is named ``<bundle>-<hash>.min.<ext>``; ``dist/manifest.json``
maps bundles to hashes.  Next to each file the build writes ``.gz`` (gzip
level 9) and ``.br`` (brotli quality 11) copies, which nginx serves as they
are (``gzip_static`` / ``brotli_static``) without compressing per request.
Templates call ``asset_url(name)`` and ``asset_sri(name)``.  Outside
development the file names and their ``sha384`` integrity values are read
once at start-up, so no request ever stats, hashes or rebuilds a file;
hashed files are served with ``Cache-Control: public, max-age=31536000,
immutable``.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import brotli
from flask import Flask, Response, request, url_for
from flask_assets import Bundle, Environment
from webassets.version import JsonManifest

from app.config import ConfigError

#: The built Bootstrap files (``make vendor-assets``), relative to the static folder.
VENDOR_DIR = "src/vendor"

#: A file name that carries a content hash, so it can be cached forever.
HASHED_NAME_RE = re.compile(r"^dist/[\w.-]+-[0-9a-f]{8,}\.min\.(?:css|js)$")


class AssetsNotBuiltError(ConfigError):
    """The bundles have not been built (run ``flask assets build``).

    A :class:`~app.config.ConfigError`: serving pages without them must not start.
    """


def precompress(path: Path) -> list[Path]:
    """Write ``path.gz`` and ``path.br`` beside ``path``; return the files written.

    gzip at level 9 with a zero timestamp (the same bytes on every build) and
    brotli at quality 11: compressed once per build, so the slowest, smallest
    settings cost nothing per request.  Each file is written to a temporary
    name of its own (``tempfile.mkstemp``) and renamed, so a server never
    reads half a file and two builds never rename each other's work away.
    """
    data = path.read_bytes()
    written = []
    for suffix, compressed in (
        (".gz", gzip.compress(data, compresslevel=9, mtime=0)),
        (".br", brotli.compress(data, quality=11)),
    ):
        target = path.with_name(path.name + suffix)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(compressed)
            os.chmod(partial, 0o644)  # mkstemp makes 0600; nginx's user must read it
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


class PrecompressingManifest(JsonManifest):
    """webassets' JSON manifest that also precompresses each bundle it records.

    Selected by ``ASSETS_MANIFEST = "precompressed-json:dist/manifest.json"``;
    webassets calls :meth:`remember` right after it writes a bundle, for
    ``flask assets build`` and for builds at start-up alike.
    """

    id = "precompressed-json"

    def remember(self, bundle: Bundle, ctx: object, version: str) -> None:
        """Record ``version`` of ``bundle``, then write its ``.gz`` and ``.br``."""
        super().remember(bundle, ctx, version)
        precompress(Path(bundle.resolve_output(ctx, version=version)))


def make_bundles() -> dict[str, Bundle]:
    """Return the bundle definitions, keyed by the name templates use."""
    return {
        "vendor_css": Bundle(
            f"{VENDOR_DIR}/bootstrap.css",
            filters="rcssmin",
            output="dist/vendor-%(version)s.min.css",
        ),
        "custom_css": Bundle(
            "src/css/*.css", filters="rcssmin", output="dist/custom-%(version)s.min.css"
        ),
        # Only for browsers without JavaScript (a <noscript> link in base.html).
        "nojs_css": Bundle(
            "src/nojs/*.css", filters="rcssmin", output="dist/nojs-%(version)s.min.css"
        ),
        "vendor_js": Bundle(
            f"{VENDOR_DIR}/bootstrap.js",
            filters="rjsmin",
            output="dist/vendor-%(version)s.min.js",
        ),
        "custom_js": Bundle(
            "src/js/*.js", filters="rjsmin", output="dist/custom-%(version)s.min.js"
        ),
        # Only on the pages with a passkey button (the {% block scripts %} of their templates).
        "passkeys_js": Bundle(
            "src/js/pages/passkeys.js", filters="rjsmin", output="dist/passkeys-%(version)s.min.js"
        ),
    }


def sri_hash(path: Path) -> str:
    """Return the Subresource Integrity value of a file: ``sha384-<base64>``.

    W3C Subresource Integrity, section 3.2.
    """
    digest = hashlib.sha384(path.read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class BuiltAsset:
    """A built bundle: ``filename`` relative to the static folder, and its SRI."""

    filename: str
    integrity: str


class AssetRegistry:
    """Resolves bundle names to built files and their SRI hashes.

    :param app: the application (its ``static_folder`` holds ``dist/``).
    :param env: the bound Flask-Assets environment.
    :param live: rebuild changed bundles and re-resolve on every call
        (development); otherwise resolve once and cache.
    """

    def __init__(self, app: Flask, env: Environment, live: bool) -> None:
        self.static_folder = Path(app.static_folder or "")
        self.static_url_path = app.static_url_path or ""
        self.env = env
        self.live = live
        self._cache: dict[str, BuiltAsset] = {}

    def build(self) -> None:
        """Build every bundle whose sources changed (or that was never built).

        Call it inside :meth:`build_lock` when other processes may build too.
        """
        for bundle in self.env:
            bundle.build()
        self._cache.clear()

    @contextmanager
    def build_lock(self) -> Iterator[None]:
        """Hold an exclusive lock on ``dist/.build.lock`` (``flock(2)``) for a build.

        Processes that start together on a clean checkout (the test workers,
        servers started with ``ASSETS_BUILD_ON_START``) would otherwise write
        the same bundle and webassets' ``manifest.json`` at the same time and
        read each other's half-written files.  The lock is released when its
        file is closed, also when the process dies.
        """
        dist = self.static_folder / "dist"
        dist.mkdir(parents=True, exist_ok=True)
        with open(dist / ".build.lock", "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def resolve(self, name: str) -> BuiltAsset:
        """Return the built file of bundle ``name``.

        :raises KeyError: for an unknown bundle.
        :raises AssetsNotBuiltError: when the bundle has not been built.
        """
        if not self.live and name in self._cache:
            return self._cache[name]
        bundle = self.env[name]
        try:
            if self.live:
                bundle.build()  # only rebuilds when a source changed
            version = bundle.get_version(refresh=self.live)
        except Exception as error:  # webassets raises several kinds here
            raise AssetsNotBuiltError(
                f"asset bundle {name!r} is not built; run `flask assets build`"
            ) from error
        filename = bundle.output % {"version": version}
        path = self.static_folder / filename
        if not path.is_file():
            raise AssetsNotBuiltError(f"{path} is missing; run `flask assets build`")
        asset = BuiltAsset(filename=filename, integrity=sri_hash(path))
        self._cache[name] = asset
        return asset

    def url(self, name: str) -> str:
        """URL of bundle ``name`` for this request (honours the path prefix)."""
        return url_for("static", filename=self.resolve(name).filename)

    def url_cached(self, name: str) -> str:
        """:meth:`url` without Werkzeug's URL building (the file name is plain ASCII).

        ``static_url_path`` + file name under ``request.script_root``: the same
        string ``url_for("static", ...)`` returns, tested against it.
        """
        return f"{request.script_root}{self.static_url_path}/{self.resolve(name).filename}"

    def integrity(self, name: str) -> str:
        """The ``integrity`` attribute value for bundle ``name``."""
        return self.resolve(name).integrity


def resolve_all(registry: AssetRegistry, require_built: bool) -> None:
    """Resolve every bundle now when ``require_built`` (see :func:`init_assets`)."""
    if require_built:
        for name in make_bundles():
            registry.resolve(name)


def init_assets(app: Flask, require_built: bool = True) -> AssetRegistry:
    """Create this app's Flask-Assets environment, its bundles and template helpers.

    The environment is per application (not a shared unbound object) because
    webassets caches each bundle's version on the bundle itself.

    Outside development (``ASSETS_AUTO_BUILD`` false) every bundle is
    resolved now (after building it if ``ASSETS_BUILD_ON_START``), so a
    missing build stops the start-up with a clear message.

    :param app: the application.
    :param require_built: check now that every bundle is built; false for
        ``flask`` commands that serve no pages (``assets build`` itself,
        ``db upgrade``, ``users create``, ``check``).
    :raises AssetsNotBuiltError: when ``require_built`` and ``flask assets
        build`` has not been run.
    """
    env = Environment(app)
    env.register(make_bundles())
    live = bool(app.config["ASSETS_AUTO_BUILD"])
    registry = AssetRegistry(app, env, live=live)
    app.extensions["bastion.assets"] = registry
    app.jinja_env.globals["asset_url"] = registry.url_cached
    app.jinja_env.globals["asset_sri"] = registry.integrity
    if not live:
        with app.app_context():
            if app.config.get("ASSETS_BUILD_ON_START"):
                with registry.build_lock():  # resolve too: the manifest is rewritten by builds
                    registry.build()
                    resolve_all(registry, require_built)
            else:
                resolve_all(registry, require_built)

    max_age = int(app.config["STATIC_IMMUTABLE_MAX_AGE"])

    @app.after_request
    def _cache_hashed_static(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            if HASHED_NAME_RE.match(filename):
                response.cache_control.public = True
                response.cache_control.max_age = max_age
                response.cache_control.immutable = True
                response.cache_control.no_cache = None
        return response

    return registry
