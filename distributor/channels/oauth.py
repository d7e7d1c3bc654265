"""OAuth 2.0 token answers (RFC 6749 §5.1) as the channel contract's TokenGrant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from distributor.channels.base import ChannelError, TokenGrant


def grant_from(
    body: Any, *, platform: str, default_lifetime: timedelta | None = None
) -> TokenGrant:
    """The new access token, the new refresh token when one is sent (it replaces the stored
    one), and when the access token expires: ``expires_in`` from now, else
    ``default_lifetime`` from now, else unknown."""
    access = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(access, str):
        raise ChannelError(f"{platform}'s token answer has no access_token", retry_after=30)
    secrets = {"access_token": access}
    if isinstance(body.get("refresh_token"), str):
        secrets["refresh_token"] = body["refresh_token"]
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float):
        expires_at: datetime | None = datetime.now(UTC) + timedelta(seconds=float(expires_in))
    elif default_lifetime is not None:
        expires_at = datetime.now(UTC) + default_lifetime
    else:
        expires_at = None
    return TokenGrant(secrets=secrets, expires_at=expires_at)
