"""Configuration from the environment (see the contract's table), with embedded defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """A configuration value is unusable; the message names the variable."""


def _generated_secret(var_dir: Path, name: str) -> str:
    """A secret generated once and kept under var/, so restarts keep sessions and signatures valid."""
    path = var_dir / name
    if path.exists():
        return path.read_text("utf-8").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    # O_EXCL: two processes starting together must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("utf-8").strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r}: use 1 or 0")


@dataclass(frozen=True)
class Settings:
    db_path: Path
    redis_url: str | None
    webhook_secrets: tuple[str, ...]
    secret_key: str
    timezone: str
    sla_policy_path: Path | None
    var_dir: Path
    webhook_secret_generated: bool = False
    escalation_webhook_url: str | None = None
    # Product alerts: a signed webhook for new alerts, and an enterprise WeChat group robot
    # (企业微信群机器人) told of new alerts and of P1 SLA breaches.
    alert_webhook_url: str | None = None
    wecom_webhook_url: str | None = None
    # Session cookie sent over HTTPS only. Off by default because `make run` serves plain
    # http://127.0.0.1; production behind TLS sets TRIAGE_COOKIE_SECURE=1 (docs/deploy.md).
    cookie_secure: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, var_dir: Path | None = None) -> Settings:
        env = os.environ if environ is None else environ
        db_path = Path(env.get("TRIAGE_DB") or "var/triage.db")
        # The contract: generated secrets (and the embedded Redis) live under var/, wherever
        # TRIAGE_DB points. TRIAGE_VAR_DIR (an extension) moves them.
        var_dir = var_dir or Path(env.get("TRIAGE_VAR_DIR") or "var")
        tz = env.get("TRIAGE_TIMEZONE") or "Asia/Shanghai"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"TRIAGE_TIMEZONE={tz!r} is not a known time zone") from exc
        raw_secrets = env.get("TRIAGE_WEBHOOK_SECRET")
        generated = False
        if raw_secrets:
            secrets_ = tuple(s.strip() for s in raw_secrets.split(",") if s.strip())
            if not secrets_:
                raise ConfigError("TRIAGE_WEBHOOK_SECRET is set but holds no secret")
        else:
            secrets_ = (_generated_secret(var_dir, "webhook_secret"),)
            generated = True
        secret_key = env.get("TRIAGE_SECRET_KEY") or _generated_secret(var_dir, "secret_key")
        cookie_secure = _flag(env, "TRIAGE_COOKIE_SECURE")
        policy = env.get("TRIAGE_SLA_POLICY")
        if policy:
            if not Path(policy).is_file():
                raise ConfigError(f"TRIAGE_SLA_POLICY={policy!r}: no such file")
            # Parsed here, so a bad file stops every command at start with this message instead of
            # crash-looping the db worker (which would leave every review pending).
            from triage.sla import SlaPolicyError, load_policy

            try:
                load_policy(policy, tz)
            except SlaPolicyError as exc:
                raise ConfigError(f"TRIAGE_SLA_POLICY: {exc}") from exc
        return cls(
            db_path=db_path,
            redis_url=env.get("REDIS_URL") or None,
            webhook_secrets=secrets_,
            secret_key=secret_key,
            timezone=tz,
            sla_policy_path=Path(policy) if policy else None,
            var_dir=var_dir,
            webhook_secret_generated=generated,
            escalation_webhook_url=env.get("TRIAGE_ESCALATION_WEBHOOK_URL") or None,
            alert_webhook_url=env.get("TRIAGE_ALERT_WEBHOOK_URL") or None,
            wecom_webhook_url=env.get("TRIAGE_WECOM_WEBHOOK_URL") or None,
            cookie_secure=cookie_secure,
        )
