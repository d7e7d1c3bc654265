"""How far a delivery's thread got: the parts a platform confirmed, kept in the channel state.

A thread is several create calls, and any of them can fail after the first post is live. So
every confirmed part is remembered under the delivery's idempotency key, and a retry resumes
after the last one instead of posting the thread again from the top. When the platform
refuses a reply for good, the reason is remembered too, so a later ``lookup`` can say why the
thread stops instead of sending the delivery round again.

Only the newest deliveries are kept: a thread is finished (or given to a person) long before
fifty newer deliveries of the same channel have gone out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributor.channels.base import AuthExpired, ChannelError, StateStore

KEPT_DELIVERIES = 50
_SLOT = "threads"


class ThreadProgress:
    """The confirmed parts (one JSON object per part, in thread order) of each delivery."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def parts(self, key: str) -> list[dict[str, Any]]:
        entry = self._entry(key)
        return [dict(part) for part in entry.get("parts") or [] if isinstance(part, dict)]

    def refusal(self, key: str) -> str | None:
        reason = self._entry(key).get("refused")
        return str(reason) if reason else None

    def save(self, key: str, parts: list[dict[str, Any]], *, refused: str | None = None) -> None:
        state = self.state.load()
        threads: dict[str, Any] = dict(state.get(_SLOT) or {})
        threads.pop(key, None)
        entry: dict[str, Any] = {"parts": parts}
        if refused:
            entry["refused"] = refused
        threads[key] = entry  # newest last: the oldest deliveries are forgotten first
        state[_SLOT] = dict(list(threads.items())[-KEPT_DELIVERIES:])
        self.state.save(state)

    def publish(
        self,
        key: str,
        parts: list[str],
        create: Callable[[int, list[dict[str, Any]]], dict[str, Any]],
        *,
        live: Callable[[dict[str, Any]], str],
    ) -> list[dict[str, Any]]:
        """Every part of a delivery's thread, created in order by ``create(index, done)``,
        resuming after the parts already confirmed. A post without replies keeps no memory:
        its idempotency key alone makes a retry safe. A part that fails after the first went
        live raises ``interrupted`` (``live`` names the first part); a reply refused for good
        is remembered for ``lookup``."""
        threaded = len(parts) > 1
        done = self.parts(key) if threaded else []
        for index in range(len(done), len(parts)):
            try:
                created = create(index, done)
            except ChannelError as error:
                if not done:
                    raise
                if error.permanent and not error.ambiguous and not isinstance(error, AuthExpired):
                    self.save(key, done, refused=error.message)
                raise interrupted(
                    error, live=live(done[0]), number=index + 1, total=len(parts)
                ) from None
            done.append(created)
            if threaded:
                self.save(key, done)
        return done

    def ids(self, key: str) -> list[str]:
        """The platform ids of the confirmed parts, for adapters that need nothing more."""
        return [str(part["id"]) for part in self.parts(key) if "id" in part]

    def save_ids(self, key: str, ids: list[str]) -> None:
        self.save(key, [{"id": remote_id} for remote_id in ids])

    def _entry(self, key: str) -> dict[str, Any]:
        entry = (self.state.load().get(_SLOT) or {}).get(key)
        return entry if isinstance(entry, dict) else {}


def describe_part(number: int, total: int) -> str:
    """ "the post" for part 1, "reply 2 of 3" for the others (numbers as the thread shows them)."""
    return "the post" if number == 1 else f"reply {number} of {total}"


def interrupted(error: ChannelError, *, live: str, number: int, total: int) -> ChannelError:
    """The error to raise when part ``number`` fails after the first post went live.

    The message names the live post and the missing reply. A token that expired or a rate
    limit keeps its meaning (the sending layer reconnects or waits, then the retry resumes);
    so does a passing failure (retried, resuming). A permanent refusal cannot simply fail the
    delivery, because its post is out: it becomes ``ambiguous`` too, so the row waits as
    ``unknown`` and ``lookup`` reports the refusal to a person instead of sending again."""
    if isinstance(error, AuthExpired):
        return error
    message = f"{live} is live but {describe_part(number, total)} was not posted: {error.message}"
    if error.rate_limited:
        return ChannelError(message, retry_after=error.retry_after, rate_limited=True)
    if error.permanent:
        return ChannelError(message, permanent=True, ambiguous=True)
    return ChannelError(message, retry_after=error.retry_after, ambiguous=error.ambiguous)


def incomplete(live: str, found: int, total: int, refused: str) -> ChannelError:
    """What ``lookup`` raises for a thread a platform refused to finish: the row stays
    ``unknown`` until a person decides (mark it sent, or delete the post and send again)."""
    return ChannelError(
        f"{live} is live but the thread stops after part {found} of {total}: the platform "
        f"refused the next reply ({refused}); resolve this delivery by hand",
        retry_after=3600,
    )
