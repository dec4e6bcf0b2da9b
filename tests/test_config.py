"""Configuration from the environment: the contract's variables and defaults (triage.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import ConfigError, Settings


def test_defaults_are_the_contracts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert (settings.db_path, settings.redis_url, settings.timezone, settings.sla_policy_path) == (
        Path("var/triage.db"), None, "Asia/Shanghai", None
    )
    assert settings.webhook_secret_generated
    assert (tmp_path / "var" / "webhook_secret").read_text().strip() == settings.webhook_secrets[0]
    assert (tmp_path / "var" / "secret_key").read_text().strip() == settings.secret_key


def test_generated_secrets_go_under_var_wherever_the_database_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = Settings.from_env({"TRIAGE_DB": str(tmp_path / "data" / "triage.db")})
    again = Settings.from_env({"TRIAGE_DB": str(tmp_path / "data" / "triage.db")})
    assert first.var_dir == Path("var") and (tmp_path / "var" / "webhook_secret").exists()
    assert not (tmp_path / "data").exists()
    assert (again.webhook_secrets, again.secret_key) == (first.webhook_secrets, first.secret_key)  # generated once


def test_several_webhook_secrets_during_rotation(tmp_path):
    settings = Settings.from_env({"TRIAGE_WEBHOOK_SECRET": "new, old", "TRIAGE_SECRET_KEY": "k"}, var_dir=tmp_path)
    assert (settings.webhook_secrets, settings.webhook_secret_generated) == (("new", "old"), False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("env", "variable"), [({"TRIAGE_TIMEZONE": "Mars/Olympus"}, "TRIAGE_TIMEZONE"),
                                               ({"TRIAGE_SLA_POLICY": "/no/such/policy.json"}, "TRIAGE_SLA_POLICY")])
def test_unusable_values_name_their_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env, var_dir=tmp_path)


def test_an_invalid_sla_policy_file_is_a_configuration_error(tmp_path):
    policy = tmp_path / "sla.json"
    policy.write_text('{"targets": {"P1": "soon"}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"TRIAGE_SLA_POLICY.*targets"):
        Settings.from_env({"TRIAGE_SLA_POLICY": str(policy)}, var_dir=tmp_path)


def test_a_valid_sla_policy_file_is_used(tmp_path):
    policy = tmp_path / "sla.json"
    policy.write_text('{"at_risk_fraction": 0.6}', encoding="utf-8")
    settings = Settings.from_env({"TRIAGE_SLA_POLICY": str(policy)}, var_dir=tmp_path)
    assert settings.sla_policy_path == policy
