"""Secrets at rest: channel credentials are encrypted with a key derived from the settings'
secret key (Fernet: AES-128-CBC + HMAC), so a copy of the database alone reveals nothing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, SecretStr

ENCRYPTED = "$encrypted"


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"distributor/secrets/v1:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_config(config: BaseModel, secret_key: str) -> dict[str, Any]:
    """A JSON-safe dict of ``config`` with every SecretStr field encrypted."""
    fernet = _fernet(secret_key)
    # JSON forms of the plain fields (datetimes as ISO-8601, nested models as dicts).
    plain = config.model_dump(mode="json")
    sealed: dict[str, Any] = {}
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, SecretStr):
            token = fernet.encrypt(value.get_secret_value().encode()).decode()
            sealed[name] = {ENCRYPTED: token}
        else:
            sealed[name] = plain[name]
    return sealed


def open_config(sealed: dict[str, Any], secret_key: str) -> dict[str, Any]:
    """The plain values of a sealed dict, ready for ``Config.model_validate``."""
    fernet = _fernet(secret_key)
    plain: dict[str, Any] = {}
    for name, value in sealed.items():
        if isinstance(value, dict) and ENCRYPTED in value:
            try:
                plain[name] = fernet.decrypt(value[ENCRYPTED].encode()).decode()
            except InvalidToken:
                raise ValueError(
                    f"cannot decrypt the channel secret {name!r}: was the secret key changed?"
                ) from None
        else:
            plain[name] = value
    return plain


def seal_value(value: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def open_value(token: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(token.encode()).decode()
