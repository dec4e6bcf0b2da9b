"""Specification of triage.tokens (read-API tokens) and triage.agents (queue users), with their
commands in service.commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest

from service.commands.agents import cli_add_agent
from service.commands.tokens import cli_create_token
from triage.agents import add_agent, authenticate, get_agent
from triage.errors import Conflict, ValidationFailed
from triage.tokens import (
    TOKEN_PREFIX,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)

T0 = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)


# -- tokens -----------------------------------------------------------------------------------


def test_a_created_token_verifies(db):
    token_id, token = create_token(db, "bi-dashboard")
    verified = verify_token(db, token)
    assert (verified.id, verified.name) == (token_id, "bi-dashboard")


def test_only_the_sha256_of_a_token_is_stored(db):
    _, token = create_token(db, "x")
    [row] = db.execute("SELECT * FROM api_tokens").fetchall()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(v) for v in tuple(row)]


def test_tokens_are_unique_and_recognisable(db):
    tokens = {create_token(db, "x")[1] for _ in range(5)}
    assert len(tokens) == 5 and all(t.startswith(TOKEN_PREFIX) and len(t) > 40 for t in tokens)


@pytest.mark.parametrize("candidate", ["", None, "trg_guess"])
def test_unknown_or_empty_tokens_do_not_verify(db, candidate):
    create_token(db, "x")
    assert verify_token(db, candidate) is None


def test_a_revoked_token_no_longer_verifies(db):
    token_id, token = create_token(db, "x")
    assert revoke_token(db, token_id) is True
    assert verify_token(db, token) is None


def test_revoking_twice_or_an_unknown_id_reports_false(db):
    token_id, _ = create_token(db, "x")
    revoke_token(db, token_id)
    assert (revoke_token(db, token_id), revoke_token(db, 999)) == (False, False)


def test_a_blank_token_name_is_refused(db):
    with pytest.raises(ValidationFailed):
        create_token(db, "  ")


def test_use_is_recorded_at_most_once_a_minute(db):
    _, token = create_token(db, "x")
    seen = []
    for moment in (T0, T0 + dt.timedelta(seconds=30), T0 + dt.timedelta(seconds=61)):
        verify_token(db, token, now=moment)
        seen.append(list_tokens(db)[0].last_used_at)
    assert seen == [T0, T0, T0 + dt.timedelta(seconds=61)]


def test_cli_prints_the_token_once_on_stdout(settings, db, capsys):
    assert cli_create_token(settings, "reporting") == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert verify_token(db, token).name == "reporting"
    assert "shown only this once" in err and token not in err


def test_cli_refuses_a_blank_name(settings, capsys):
    assert cli_create_token(settings, " ") == 1
    assert "must not be blank" in capsys.readouterr().err


# -- agents -----------------------------------------------------------------------------------



def test_an_added_agent_authenticates_with_its_password(db):
    agent_id = add_agent(db, "wang", "s3cret pass", "supervisor", "王经理")
    agent = authenticate(db, "wang", "s3cret pass")
    assert (agent.id, agent.username, agent.role, agent.display_name, agent.active) == (
        agent_id, "wang", "supervisor", "王经理", True
    )


def test_the_password_is_stored_as_a_salted_scrypt_hash(db, monkeypatch):
    monkeypatch.undo()  # the production cost, this once (that two hashes differ: test_passwords)
    add_agent(db, "wang", "s3cret", "agent")
    stored = db.execute("SELECT password_hash FROM agents").fetchone()[0]
    assert stored.startswith("scrypt:") and "s3cret" not in stored


@pytest.mark.parametrize(("username", "password"), [("wang", "wrong"), ("nobody", "s3cret"), ("WANG", "s3cret")])
def test_wrong_credentials_do_not_authenticate(db, username, password):
    add_agent(db, "wang", "s3cret", "agent")
    assert authenticate(db, username, password) is None


def test_an_inactive_agent_does_not_authenticate(db):
    add_agent(db, "wang", "s3cret", "agent")
    db.execute("UPDATE agents SET active = 0")
    assert authenticate(db, "wang", "s3cret") is None


def test_an_existing_username_is_a_conflict(db):
    add_agent(db, "wang", "one", "agent")
    with pytest.raises(Conflict, match="wang"):
        add_agent(db, "wang", "two", "admin")


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [("", "pw", "agent", "username"), ("has space", "pw", "agent", "username"), ("-lead", "pw", "agent", "username"),
     ("wang", "", "agent", "password"), ("wang", "pw", "boss", "role")],
)
def test_bad_agent_input_is_refused(db, username, password, role, field):
    with pytest.raises(ValidationFailed) as caught:
        add_agent(db, username, password, role)
    assert [i["field"] for i in caught.value.items] == [field]


def test_cli_reads_the_password_from_a_pipe(settings, db, capsys):
    assert cli_add_agent(settings, "li", "agent", "李客服", stdin=io.StringIO("pipe pass\nignored\n")) == 0
    assert authenticate(db, "li", "pipe pass").display_name == "李客服"
    assert "li" in capsys.readouterr().out


def test_cli_strips_only_the_line_end_from_the_password(settings, db):
    cli_add_agent(settings, "li", "agent", stdin=io.StringIO(" spaced \r\n"))
    assert authenticate(db, "li", " spaced ") is not None


@pytest.mark.parametrize("stdin", ["", "\n"], ids=["eof", "empty-line"])
def test_cli_refuses_an_empty_password(settings, db, capsys, stdin):
    assert cli_add_agent(settings, "li", "agent", stdin=io.StringIO(stdin)) == 1
    assert "empty password" in capsys.readouterr().err
    assert get_agent(db, "li") is None


def test_cli_reports_an_existing_username(settings, db, capsys):
    add_agent(db, "li", "first", "agent")
    assert cli_add_agent(settings, "li", "admin", stdin=io.StringIO("second\n")) == 1
    assert "already exists" in capsys.readouterr().err
    assert get_agent(db, "li").role == "agent"


def test_cli_prompts_without_echo_on_a_terminal(settings, db, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or "typed pw")
    assert cli_add_agent(settings, "li", "agent", stdin=Terminal()) == 0
    assert len(prompts) == 2 and authenticate(db, "li", "typed pw") is not None


def test_cli_refuses_mismatched_passwords_on_a_terminal(settings, db, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["first", "second"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert cli_add_agent(settings, "li", "agent", stdin=Terminal()) == 1
    assert "do not match" in capsys.readouterr().err
