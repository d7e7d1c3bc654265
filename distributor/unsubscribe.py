"""Signed, non-expiring unsubscribe tokens (RFC 8058 one-click): they name a subscriber and a
list, carry no address, and cannot be forged without the secret key."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer


@dataclass(frozen=True)
class UnsubscribeTarget:
    subscriber_id: int
    list_id: int


class InvalidToken(ValueError):
    pass


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="distributor/unsubscribe/v1")


def make_token(secret_key: str, subscriber_id: int, list_id: int) -> str:
    token: str = _serializer(secret_key).dumps([subscriber_id, list_id])
    return token


def read_token(secret_key: str, token: str) -> UnsubscribeTarget:
    try:
        subscriber_id, list_id = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken("this unsubscribe link is not valid") from None
    return UnsubscribeTarget(int(subscriber_id), int(list_id))


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/u/{token}"


def preferences_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/preferences/{token}"
