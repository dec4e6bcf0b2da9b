"""Failed sign-ins are throttled per account and per address, an account locks after repeated
failures until it times out or an admin unlocks it, password checks are bounded in number, and
every failure or refusal leaves one audit line."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from service.commands.agents import cli_unlock_agent
from tests.web_support import csrf_token
from triage import passwords
from triage.agents import add_agent
from triage.login_throttle import LoginPolicy, check_login_allowed, record_login_failure, unlock_account

AGENT = ("li.na", "right password")
LIMIT = LoginPolicy().account_failures


@pytest.fixture()
def agent(db):
    add_agent(db, *AGENT, role="agent")


def login(client, username, password, address="192.0.2.1"):
    data = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_repeated_failures_lock_the_account_even_against_the_right_password(client, agent):
    for _ in range(LIMIT):
        assert login(client, AGENT[0], "guess").status_code == 400
    response = login(client, *AGENT)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 60
    assert "锁定" in response.get_data(as_text=True)


def test_an_admin_unlock_lets_the_right_password_in_again(client, agent, db, settings, capsys):
    for _ in range(LIMIT):
        login(client, AGENT[0], "guess")
    assert cli_unlock_agent(settings, AGENT[0]) == 0
    assert "Unlocked" in capsys.readouterr().out
    assert login(client, *AGENT).status_code == 302


def test_unlock_of_an_unknown_agent_says_so(settings, db, capsys):
    assert cli_unlock_agent(settings, "nobody") == 1
    assert "no agent 'nobody'" in capsys.readouterr().err


def test_one_address_guessing_many_accounts_is_throttled(client, agent):
    for i in range(LoginPolicy().address_failures):
        login(client, f"user{i}", "guess", address="198.51.100.7")
    assert login(client, *AGENT, address="198.51.100.7").status_code == 429
    assert login(client, *AGENT, address="198.51.100.8").status_code == 302  # other addresses are not


def test_a_success_forgets_earlier_failures(client, agent):
    for _ in range(LIMIT - 1):
        login(client, AGENT[0], "guess")
    assert login(client, *AGENT).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/queue")})
    assert login(client, AGENT[0], "guess").status_code == 400  # counting starts again: not locked


def test_a_lockout_ends_by_itself(db):
    import datetime as dt

    from triage.timeutil import utcnow

    policy = LoginPolicy()
    then = utcnow() - policy.lockout - dt.timedelta(seconds=1)
    for _ in range(LIMIT):
        record_login_failure(db, "li.na", "a", now=then)
    assert check_login_allowed(db, "li.na", "b", now=then) is not None
    assert check_login_allowed(db, "li.na", "b") is None
    assert unlock_account(db, "li.na") is True  # an expired row is still lifted cleanly


def test_each_failure_and_refusal_is_one_audit_line(client, agent, caplog):
    with caplog.at_level(logging.WARNING, logger="triage.audit"):
        login(client, AGENT[0], "guess")
    lines = [r.getMessage() for r in caplog.records if r.name == "triage.audit"]
    assert len(lines) == 1 and "login failed" in lines[0] and "li.na" in lines[0] and "192.0.2.1" in lines[0]


def test_a_permission_refusal_is_one_audit_line(client, agent, caplog):
    login(client, *AGENT)
    with caplog.at_level(logging.WARNING, logger="triage.audit"):
        assert client.get("/reports/weekly").status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "triage.audit"]
    assert len(lines) == 1 and "permission refused" in lines[0] and "li.na" in lines[0]


def test_concurrent_password_hashing_is_bounded(monkeypatch):
    running = 0
    peak = 0
    lock = threading.Lock()
    real = passwords._derive_now

    def slow(*args):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)  # long enough for every thread to be started while the first ones hash
        with lock:
            running -= 1
        return real(*args)

    monkeypatch.setattr(passwords, "_derive_now", slow)
    stored = passwords.generate_password_hash("x", method="pbkdf2:sha256:1")
    threads = [threading.Thread(target=passwords.check_password_hash, args=(stored, "y")) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == passwords.MAX_CONCURRENT_HASHES


def test_a_full_hashing_bound_answers_busy_instead_of_piling_up(monkeypatch):
    monkeypatch.setattr(passwords, "HASH_WAIT_SECONDS", 0.05)
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        passwords._hashing.acquire()
    try:
        with pytest.raises(passwords.HashingBusy):
            passwords.check_password_hash(passwords.generate_password_hash("x", method="pbkdf2:sha256:10"), "x")
    finally:
        for _ in range(passwords.MAX_CONCURRENT_HASHES):
            passwords._hashing.release()
