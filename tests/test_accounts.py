"""Account management (triage.agents, triage.tokens) and its commands: agent list/disable/enable/
passwd/shift, token create --agent/list/revoke, and the corrections export."""

from __future__ import annotations

import io
import json

import pytest

from service.cli import main
from service.commands.agents import cli_passwd
from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases
from triage.agents import (
    add_agent,
    authenticate,
    disable_agent,
    enable_agent,
    get_agent,
    list_agents,
    record_login,
    set_password,
    set_shift,
)
from triage.corrections import export_rows
from triage.db import transaction
from triage.errors import NotFound, ValidationFailed
from triage.ingest import ingest
from triage.sla import default_policy
from triage.tokens import create_token, list_tokens, revoke_tokens_named, verify_token
from triage.validation import validate_batch


@pytest.fixture()
def env(settings, monkeypatch):
    """The CLI reads its settings from the environment: point it at the test's database."""
    monkeypatch.setenv("TRIAGE_DB", str(settings.db_path))
    monkeypatch.setenv("TRIAGE_SECRET_KEY", "k")
    monkeypatch.setenv("TRIAGE_WEBHOOK_SECRET", "s")
    monkeypatch.delenv("REDIS_URL", raising=False)
    return settings


# -- domain -------------------------------------------------------------------------------------


def test_agents_are_listed_with_role_shift_and_state(db):
    add_agent(db, "li", "pw", "agent")
    add_agent(db, "boss", "pw", "supervisor")
    set_shift(db, "li", "夜班")
    record_login(db, "li", now=T0)
    agents = {a.username: a for a in list_agents(db)}
    assert (agents["li"].shift, agents["li"].last_login_at, agents["boss"].role) == ("夜班", T0, "supervisor")
    assert [a.username for a in list_agents(db)] == ["boss", "li"]


def test_a_disabled_agent_cannot_sign_in_until_enabled(db):
    add_agent(db, "li", "pw", "agent")
    disable_agent(db, "li")
    assert authenticate(db, "li", "pw") is None and get_agent(db, "li").active is False
    enable_agent(db, "li")
    assert authenticate(db, "li", "pw") is not None


def test_a_password_reset_replaces_the_old_password(db):
    add_agent(db, "li", "old", "agent")
    set_password(db, "li", "new")
    assert authenticate(db, "li", "old") is None and authenticate(db, "li", "new") is not None


@pytest.mark.parametrize("change", [disable_agent, enable_agent, lambda db, u: set_password(db, u, "x"),
                                    lambda db, u: set_shift(db, u, "白班")])
def test_changing_an_unknown_agent_is_not_found(db, change):
    with pytest.raises(NotFound):
        change(db, "ghost")


def test_a_token_for_an_agent_acts_as_that_agent(db):
    add_agent(db, "li", "pw", "supervisor")
    _, token = create_token(db, "wecom-bot", agent="li")
    verified = verify_token(db, token)
    assert (verified.agent, verified.role, verified.read_only) == ("li", "supervisor", False)


def test_a_token_for_an_unknown_agent_is_refused(db):
    with pytest.raises(ValidationFailed):
        create_token(db, "x", agent="ghost")


def test_disabling_an_agent_stops_their_tokens(db):
    add_agent(db, "li", "pw", "agent")
    _, token = create_token(db, "bot", agent="li")
    disable_agent(db, "li")
    assert verify_token(db, token) is None
    enable_agent(db, "li")
    assert verify_token(db, token) is not None


def test_revoking_by_name_revokes_every_live_token_of_that_name(db):
    create_token(db, "bi")
    create_token(db, "bi")
    create_token(db, "other")
    assert revoke_tokens_named(db, "bi") == 2
    assert revoke_tokens_named(db, "bi") == 0
    assert [t.name for t in list_tokens(db, include_revoked=False)] == ["other"]


# -- commands ----------------------------------------------------------------------------------


def test_token_create_for_an_agent_list_and_revoke(env, db, capsys):
    add_agent(db, "li", "pw", "agent")
    assert main(["token", "create", "wecom-bot", "--agent", "li"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify_token(db, token).agent == "li"
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "wecom-bot" in listing and "li" in listing and token not in listing
    assert main(["token", "revoke", "wecom-bot"]) == 0
    assert verify_token(db, token) is None
    assert main(["token", "revoke", "wecom-bot"]) == 1


def test_agent_list_disable_and_passwd(env, db, capsys):
    add_agent(db, "li", "pw", "agent")
    assert main(["agent", "list"]) == 0
    assert "li" in capsys.readouterr().out
    assert main(["agent", "disable", "li"]) == 0
    assert get_agent(db, "li").active is False
    assert main(["agent", "disable", "ghost"]) == 1
    assert main(["agent", "enable", "li"]) == 0
    assert cli_passwd(env, "li", stdin=io.StringIO("s3cret\n")) == 0
    assert authenticate(db, "li", "s3cret") is not None
    assert cli_passwd(env, "li", stdin=io.StringIO("\n")) == 1


# -- corrections export ---------------------------------------------------------------------------


def corrected_case(db) -> int:
    add_agent(db, "li", "pw", "agent")
    (pk,) = add_reviews(db, [review("r1", COMPLAINTS[1])])
    policy = default_policy("Asia/Shanghai")
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id="c1", priority="P2", risk=0.7, causes=("defect",),
                                   now=T0, policy=policy).case_id
        db.execute("UPDATE reviews SET case_id = ?, status = 'scored', sentiment = 'negative' WHERE id = ?",
                   (case_id, pk))
    actor = cases.Actor("li", "agent")
    for fields in ({"review": "default/r1", "causes": ["logistics"]}, {"review": "default/r1", "sentiment": "negative"}):
        version = cases.get_case(db, case_id)["version"]
        cases.perform(db, case_id, actor, "correct", fields, version=version, policy=policy, now=T0)
    return case_id


def test_corrections_export_as_training_rows(db):
    corrected_case(db)
    (row,) = export_rows(db)
    assert (row["text"], row["sentiment"], row["causes"]) == (COMPLAINTS[1], "negative", ["logistics"])
    assert (row["review"], row["agent"], row["revision"]) == ("default/r1", "li", 1)


def test_a_correction_stays_with_the_text_it_was_about(db):
    corrected_case(db)
    ingest(db, validate_batch([review("r1", "追评：后来补发了，谢谢")]), T0)  # the customer edits the review
    (row,) = export_rows(db)
    assert row["text"] == COMPLAINTS[1]


def test_the_export_command_writes_what_classifier_train_extra_reads(env, db, tmp_path, capsys):
    corrected_case(db)
    out = tmp_path / "corrections.jsonl"
    assert main(["corrections", "export", str(out)]) == 0
    (line,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # The --extra row format: {"text", "sentiment": "negative"|"positive"|null, "causes": [...]|null}.
    assert isinstance(line["text"], str) and line["text"].strip()
    assert line["sentiment"] in ("negative", "positive", None)
    assert line["causes"] == ["logistics"]
    try:  # the classifier's own reader, where this checkout has it
        from classifier.data import read_extra
    except ImportError:
        return
    (extra,) = read_extra(out)
    assert extra.text == COMPLAINTS[1]
