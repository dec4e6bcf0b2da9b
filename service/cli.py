"""`triage` command line (also `python -m triage`), as the contract defines it.

Each sub-command's work lives in its own module (`service.serve`, `service.worker`,
`service.commands.*`); this file only parses arguments, so `triage --help` stays fast and a
command imports only what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from service.niceness import DEFAULT_NICE
from service.niceness import niceness as _niceness
from triage.config import ConfigError, Settings
from triage.errors import Busy

EXIT_BUSY = 75  # EX_TEMPFAIL (sysexits.h): try again later

# Commands that work on an existing database and must never create one (a `triage import` run
# from the wrong folder would otherwise fill a new var/triage.db that nothing serves).
_EXISTING_DB_ONLY = ("agent", "token", "import", "report")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triage", description="Review monitoring and complaint triage.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="web app, plus embedded Redis and workers when REDIS_URL is unset")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--workers", type=int, default=1, help="scoring workers to start (embedded Redis only)")
    s.add_argument("--score-nice", type=_niceness, default=DEFAULT_NICE["score"], metavar="N",
                   help="niceness added to the scoring workers it starts, so requests get the CPU first"
                   f" (default {DEFAULT_NICE['score']}; 0 keeps them at serve's priority)")
    s.add_argument("--db-nice", type=_niceness, default=DEFAULT_NICE["db"], metavar="N",
                   help=f"niceness added to the db worker it starts (default {DEFAULT_NICE['db']})")
    s.add_argument("--demo", action="store_true",
                   help="load the demo shop (reviews, team, handbook) into a fresh database and print two logins;"
                   " `make run` passes it")
    s.add_argument("--no-demo", action="store_true", help="no demo data (the default; kept for older scripts)")

    web = sub.add_parser("web", help="the web app alone under waitress (production web tier)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a listening socket handed over by `serve`

    w = sub.add_parser("worker", help="an rq worker (with scheduler) for REDIS_URL")
    w.add_argument(
        "--role",
        choices=("score", "db", "all"),
        default="score",
        help="score: pure scoring, runs on any machine; db: applies results, SLA timers and sweeps, "
        "must run on the database host; all: both (default: score)",
    )
    w.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    w.add_argument("--nice", type=_niceness, default=0, metavar="N",
                   help="add N (0-19) to the worker's niceness at start, so other processes on the machine"
                   " (the web server) get the CPU first (default 0: unchanged)")

    a = sub.add_parser("agent", help="manage agents")
    asub = a.add_subparsers(dest="agent_command", required=True, metavar="ACTION")
    add = asub.add_parser("add", help="add an agent; the password is read from stdin")
    add.add_argument("username")
    add.add_argument("--role", choices=("agent", "supervisor", "admin"), required=True)
    add.add_argument("--name", help="display name")
    add.add_argument("--shift", help="shift name, e.g. 白班 or 夜班")
    asub.add_parser("list", help="list agents: role, shift, state, last login")
    for action, text in (("disable", "disable an agent: no sign-in, no assignments, tokens stop working"),
                         ("enable", "enable a disabled agent again")):
        asub.add_parser(action, help=text).add_argument("username")
    pw = asub.add_parser("passwd", help="set an agent's password, read from stdin")
    pw.add_argument("username")
    sh = asub.add_parser("shift", help="put an agent on a shift ('' takes them off)")
    sh.add_argument("username")
    sh.add_argument("shift")
    unlock = asub.add_parser("unlock", help="lift a login lockout (after repeated failed logins)")
    unlock.add_argument("username")

    t = sub.add_parser("token", help="manage API tokens")
    tsub = t.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = tsub.add_parser("create", help="print a new API token once (stored hashed)")
    create.add_argument("name")
    create.add_argument("--agent", metavar="USERNAME",
                        help="the token acts as this agent (case actions); without it the token is read-only")
    tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    revoke = tsub.add_parser("revoke", help="revoke every live token of this name")
    revoke.add_argument("name")

    c = sub.add_parser("corrections", help="agents' corrections of the model")
    csub = c.add_subparsers(dest="corrections_command", required=True, metavar="ACTION")
    export = csub.add_parser("export", help="write corrections as JSON Lines for `python -m classifier train --extra`")
    export.add_argument("file", help="output file ('-' for stdout)")

    i = sub.add_parser("import", help="import reviews from CSV or JSON Lines through the webhook's pipeline")
    i.add_argument("file")
    i.add_argument("--platform", help="platform for rows that name none (default: 'default')")
    i.add_argument("--batch-size", type=int, default=500)

    r = sub.add_parser("report", help="reports")
    rsub = r.add_subparsers(dest="report_command", required=True, metavar="KIND")
    weekly = rsub.add_parser("weekly", help="the weekly negative-review rate report")
    weekly.add_argument("--week", help="ISO week YYYY-Www (default: last complete week)")
    weekly.add_argument("--format", choices=("html", "json", "csv"), default="html")
    weekly.add_argument("--output", help="file to write (default: stdout)")
    weekly.add_argument("--fresh", action="store_true", help="recompute even if the week was published")
    return p


def _missing_database(environ: dict[str, str]) -> str | None:
    """Why an admin command must not run here (its database does not exist), or None."""
    raw = environ.get("TRIAGE_DB")
    path = Path(raw or "var/triage.db").absolute()
    if path.exists():
        return None
    how = ("TRIAGE_DB points there" if raw else
           f"TRIAGE_DB is unset, so the default var/triage.db is taken in the current folder, {Path.cwd()}")
    return (f"no database at {path} ({how}); run the command in the folder where `triage serve` runs, or set "
            "TRIAGE_DB to its database. Only `triage serve` creates a new database.")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    environ = dict(os.environ)
    if args.command in _EXISTING_DB_ONLY:
        problem = _missing_database(environ)
        if problem:
            print(f"triage: {problem}", file=sys.stderr)
            return 2
        # These commands sign nothing: do not generate secrets into a var/ of whatever folder they run in.
        environ.setdefault("TRIAGE_WEBHOOK_SECRET", "unused-by-this-command")
        environ.setdefault("TRIAGE_SECRET_KEY", "unused-by-this-command")
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        print(f"triage: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, settings)
    except Busy as exc:
        # Another process held the database's write lock for the whole busy timeout.
        print(f"triage: {exc.message}", file=sys.stderr)
        return EXIT_BUSY


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from service.serve import serve

        return serve(settings, host=args.host, port=args.port, workers=args.workers, demo=args.demo and not args.no_demo,
                     nice={"score": args.score_nice, "db": args.db_nice})
    if args.command == "web":
        from service.web import run

        return run(settings, host=args.host, port=args.port, fd=args.fd)
    if args.command == "worker":
        from service.worker import run_worker

        return run_worker(settings, role=args.role, burst=args.burst, nice=args.nice)
    if args.command == "agent":
        from service.commands import agents

        if args.agent_command == "unlock":
            return agents.cli_unlock_agent(settings, args.username)

        if args.agent_command == "add":
            return agents.cli_add_agent(settings, args.username, args.role, display_name=args.name, shift=args.shift)
        if args.agent_command == "list":
            return agents.cli_list_agents(settings)
        if args.agent_command == "passwd":
            return agents.cli_passwd(settings, args.username)
        if args.agent_command == "shift":
            return agents.cli_set_shift(settings, args.username, args.shift)
        return agents.cli_set_enabled(settings, args.username, enabled=args.agent_command == "enable")
    if args.command == "token":
        from service.commands import tokens

        if args.token_command == "create":
            return tokens.cli_create_token(settings, args.name, agent=args.agent)
        if args.token_command == "list":
            return tokens.cli_list_tokens(settings)
        return tokens.cli_revoke_token(settings, args.name)
    if args.command == "corrections":
        from service.commands.corrections import cli_export_corrections

        return cli_export_corrections(settings, args.file)
    if args.command == "import":
        from service.commands.imports import cli_import

        return cli_import(settings, args.file, platform=args.platform, batch_size=args.batch_size)
    if args.command == "report":
        from service.commands.reports import cli_weekly

        return cli_weekly(settings, week=args.week, fmt=args.format, output=args.output, fresh=args.fresh)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
