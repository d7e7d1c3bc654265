"""Settings: the only module that reads the environment (prefix ``DISTRIBUTOR_`` or ``.env``)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable; the defaults run on one machine with nothing else installed."""

    model_config = SettingsConfigDict(env_prefix="DISTRIBUTOR_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    broker_url: str = ""
    secret_key: SecretStr = SecretStr("")

    public_url: str = "http://127.0.0.1:8000"
    org_name: str = "International Service for Human Rights"
    org_postal_address: str = "Rue de Varembé 1, 1202 Geneva, Switzerland"
    org_timezone: str = "Europe/Zurich"
    article_base_url: str = "https://ishr.ch/latest-updates/"
    mail_from: str = "ISHR News <news@ishr.example>"
    unsubscribe_mailto: str = "unsubscribe@ishr.example"
    templates_dir: Path = PROJECT_ROOT / "templates"
    # Tests only: the process kills itself at this named point (see distributor.faults).
    fault_point: str = ""
    # Who the CLI acts as when ``--as`` is not given (approvals record this user).
    acting_user: str = ""

    http_timeout_seconds: float = 10.0
    http_max_bytes: int = 5_000_000
    # Tests and local demos talk to peers on loopback; production refuses private addresses.
    allow_private_addresses: bool = False

    lease_seconds: int = 120
    max_attempts: int = 5
    email_batch_size: int = 100
    dispatch_interval_seconds: float = 5.0
    sweep_interval_seconds: float = 15.0
    feed_poll_interval_seconds: float = 300.0

    # Token lifecycle (distributor.tokens): warn this many days before a channel's access
    # token expires; mail the warning to admins through this email channel's SMTP relay
    # (its name; empty = log and dashboard only).
    token_warning_days: int = 7
    token_warning_email_channel: str = ""

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        self.data_dir = self.data_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'distributor.db'}"
        if not self.broker_url:
            self.broker_url = (
                f"sqla+sqlite:///{self.data_dir / 'broker.db'}"
                if self.database_url.startswith("sqlite")
                else "redis://127.0.0.1:6379/0"
            )
        if not self.secret_key.get_secret_value():
            self.secret_key = SecretStr(_local_secret(self.data_dir))
        return self

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.broker_url.startswith("sqla+")


def _local_secret(data_dir: Path) -> str:
    """A per-installation key kept beside the embedded database, so a demo needs no setup."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
