"""A file outbox: writes each post it would send as JSON, for previews, demos and audits.

Naturally idempotent: the file is named after the idempotency key and written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from distributor.channels.base import Channel, ChannelError, Outgoing, Receipt


class OutboxConfig(BaseModel):
    directory: str


class Outbox(Channel):
    kind: ClassVar[str] = "outbox"
    Config: ClassVar[type[BaseModel]] = OutboxConfig

    @property
    def directory(self) -> Path:
        assert isinstance(self.config, OutboxConfig)
        return Path(self.config.directory)

    def _path(self, idempotency_key: str) -> Path:
        return self.directory / f"{idempotency_key}.json"

    def publish(self, message: Outgoing, *, idempotency_key: str) -> Receipt:
        path = self._path(idempotency_key)
        if path.exists():
            return Receipt(remote_id=path.name, url=path.as_uri())
        document = {
            "idempotency_key": idempotency_key,
            "created_at": message.created_at.isoformat(),
            "post": asdict(message.post),
            "image_bytes": len(message.image_bytes) if message.image_bytes else 0,
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
            os.replace(partial, path)
        except OSError as error:
            raise ChannelError(f"cannot write to the outbox {self.directory}: {error}") from None
        return Receipt(remote_id=path.name, url=path.as_uri())

    def lookup(self, message: Outgoing, *, idempotency_key: str) -> Receipt | None:
        path = self._path(idempotency_key)
        return Receipt(remote_id=path.name, url=path.as_uri()) if path.exists() else None

    def check(self) -> str:
        return f"outbox at {self.directory}"
