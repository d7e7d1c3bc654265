"""Sending through the ledger: claim → guard → record intent → call → record result.

Each call happens between two commits: ``sending`` before it, the receipt or error after it.
Task code in ``workers/`` calls only the three entry points here."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update

from distributor import delivery as ledger
from distributor import tokens
from distributor.channels import SOCIAL_CHANNELS, channel_class
from distributor.channels.base import AuthExpired, Channel, ChannelError, Outgoing, Receipt
from distributor.config import Settings
from distributor.domain import (
    DeliveryState,
    EmailRendition,
    Image,
    LinkCard,
    PostRendition,
)
from distributor.faults import fault
from distributor.http import make_session
from distributor.images import fetch_image
from distributor.ratelimit import UNMETERED, RateLimiter, bucket_key, limiter_for
from distributor.secrets import open_config, open_value, seal_value
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

log = logging.getLogger(__name__)

# How long a delivery waits after a rate-limit answer that names no time.
RATE_LIMIT_WAIT = 60.0


def reconcilable_kinds() -> tuple[str, ...]:
    """The kinds whose adapter can look up an earlier post (it overrides ``lookup``)."""
    return tuple(k for k in SOCIAL_CHANNELS if channel_class(k).lookup is not Channel.lookup)


class DbState:
    """A channel's remembered state (a cached session), encrypted in its row."""

    def __init__(self, db: Database, channel_id: int, secret_key: str) -> None:
        self.db = db
        self.channel_id = channel_id
        self.secret_key = secret_key

    def load(self) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(t.Channel, self.channel_id)
            sealed = (row.state or {}).get("sealed") if row else None
        return json.loads(open_value(sealed, self.secret_key)) if sealed else {}

    def save(self, state: dict[str, Any]) -> None:
        with self.db.session() as session:
            row = session.get(t.Channel, self.channel_id)
            if row is not None:
                row.state = {"sealed": seal_value(json.dumps(state), self.secret_key)}


def channel_config(row: t.Channel, config_cls: type[BaseModel], settings: Settings) -> BaseModel:
    plain = open_config(row.config.get("settings", {}), settings.secret_key.get_secret_value())
    return config_cls.model_validate(plain)


def build_channel(row: t.Channel, db: Database, settings: Settings) -> Channel:
    cls = channel_class(row.kind)
    config = channel_config(row, cls.Config, settings)
    http = make_session(
        timeout=settings.http_timeout_seconds, allow_private=settings.allow_private_addresses
    )
    return cls(config, http, DbState(db, row.id, settings.secret_key.get_secret_value()))


def post_from_payload(payload: dict[str, Any]) -> PostRendition:
    card = payload.get("card")
    image = payload.get("image")
    return PostRendition(
        platform=payload["platform"],
        text=payload["text"],
        length=payload["length"],
        limit=payload["limit"],
        link=payload.get("link"),
        card=LinkCard(**card) if card else None,
        image=Image(**image) if image else None,
        facets=list(payload.get("facets") or []),
        warnings=list(payload.get("warnings") or []),
        thread=list(payload.get("thread") or []),
    )


def email_from_payload(payload: dict[str, Any]) -> EmailRendition:
    return EmailRendition(
        subject=payload["subject"],
        preheader=payload["preheader"],
        html=payload["html"],
        text=payload["text"],
    )


@dataclass
class Sender:
    """The context every send needs; built once per worker process."""

    db: Database
    settings: Settings

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    @cached_property
    def limiter(self) -> RateLimiter:
        return limiter_for(self.settings, self.db)

    # -- posts -------------------------------------------------------------------------

    def send_post(self, delivery_id: int) -> str:
        """Publish one post delivery; returns the row's final state for this attempt."""
        if self._rate_limited(delivery_id):
            return DeliveryState.PENDING.value
        with self.db.session() as session:
            claimed = ledger.claim_for_send(session, delivery_id, now=utcnow(), lease=self.lease)
            if claimed is None:
                return "skipped"
            channel_row = claimed.channel
            payload = claimed.rendition.payload or {}
            created_at = claimed.delivery.created_at
            key = claimed.delivery.idem_key
        post = post_from_payload(payload)
        try:
            receipt = self._publish(channel_row, post, created_at, key)
            fault("after_post_call")
        except AuthExpired as error:
            self._needs_reconnect(channel_row.id, delivery_id, error)
            return DeliveryState.PENDING.value
        except ChannelError as error:
            if error.rate_limited:
                return self._wait_for_rate_limit(
                    delivery_id, error, channel_row.kind, channel_row
                ).value
            return self._failed(delivery_id, error).value
        except Exception as error:  # a bug or an unexpected library error: never a blind retry
            log.exception("delivery %s: unexpected error during the call", delivery_id)
            return self._failed(
                delivery_id, ChannelError(f"unexpected error: {error!r}", ambiguous=True)
            ).value
        with self.db.session() as session:
            ledger.record_sent(
                session, delivery_id, remote_id=receipt.remote_id, url=receipt.url, now=utcnow()
            )
        return DeliveryState.SENT.value

    def _publish(self, row: t.Channel, post: PostRendition, created_at: Any, key: str) -> Receipt:
        """Publish; after ``AuthExpired``, refresh the token once and publish once more. A
        second ``AuthExpired`` (or a refused refresh) means a person must reconnect."""
        channel = build_channel(row, self.db, self.settings)
        outgoing = self._outgoing(post, created_at, channel.http)
        try:
            return channel.publish(outgoing, idempotency_key=key)
        except AuthExpired as expired:
            log.info("channel %s: %s; refreshing the token once", row.name, expired.message)
            tokens.refresh_credentials(
                self.db, self.settings, row.id, seen=row.config, channel=channel
            )
        with self.db.session() as session:
            fresh = session.get(t.Channel, row.id)
            assert fresh is not None
        return build_channel(fresh, self.db, self.settings).publish(outgoing, idempotency_key=key)

    def _rate_limited(self, delivery_id: int) -> bool:
        """Take the account's token (one per post of a thread) from the shared bucket. With
        none free, the row goes back to ``pending`` until one is: no Celery ETA, and only
        this account's deliveries wait."""
        with self.db.session() as session:
            found = session.execute(
                select(t.Delivery.channel_id, t.Channel.kind, t.Rendition.payload)
                .join(t.Channel, t.Channel.id == t.Delivery.channel_id)
                .join(t.Rendition, t.Rendition.id == t.Delivery.rendition_id)
                .where(t.Delivery.id == delivery_id, t.Delivery.state == DeliveryState.CLAIMED)
            ).first()
        if found is None or found.kind not in SOCIAL_CHANNELS:
            return False
        # Without a published limit the bucket still carries the platform's own "wait until".
        limit = channel_class(found.kind).rate_limit or UNMETERED
        cost = 1 + len((found.payload or {}).get("thread") or [])
        try:
            wait = self.limiter.take(bucket_key(found.channel_id), limit, cost=cost)
        except Exception as error:  # the bucket's store is down: delay, never overrun
            log.warning("rate limit store unavailable (%s); delivery %s waits", error, delivery_id)
            wait = 30.0
        if wait <= 0:
            return False
        now = utcnow()
        with self.db.session() as session:
            ledger.defer(
                session,
                delivery_id,
                until=now + timedelta(seconds=wait),
                reason=f"held: the {found.kind} account's rate limit; next slot in {wait:.0f} s",
                now=now,
            )
        return True

    def _block_account(self, row: t.Channel, seconds: float) -> None:
        try:
            self.limiter.block(bucket_key(row.id), seconds)
        except Exception as error:  # the row's own retry time still holds
            log.warning("rate limit store unavailable (%s)", error)

    def _outgoing(self, post: PostRendition, created_at: Any, http: Any) -> Outgoing:
        image_url = (post.card.image_url if post.card else None) or (
            post.image.url if post.image else None
        )
        fetched = fetch_image(http, image_url) if image_url else None
        return Outgoing(
            post=post,
            created_at=created_at,
            image_bytes=fetched.data if fetched else None,
            image_mime=fetched.mime if fetched else None,
        )

    def _failed(self, delivery_id: int, error: ChannelError) -> DeliveryState:
        if error.rate_limited:
            return self._wait_for_rate_limit(delivery_id, error, "the platform's")
        with self.db.session() as session:
            return ledger.record_failure(
                session,
                delivery_id,
                message=error.message,
                permanent=error.permanent,
                ambiguous=error.ambiguous,
                retry_after=error.retry_after,
                max_attempts=self.settings.max_attempts,
                now=utcnow(),
            )

    def _wait_for_rate_limit(
        self, delivery_id: int, error: ChannelError, platform: str, account: t.Channel | None = None
    ) -> DeliveryState:
        """Being told "wait until T" is not a failure: the row waits for T without using up
        an attempt, however often the account is throttled (its send window still ends it).
        The ``account``'s other deliveries wait for T too instead of each collecting its own
        refusal."""
        now = utcnow()
        wait = max(1.0, error.retry_after if error.retry_after is not None else RATE_LIMIT_WAIT)
        if account is not None:
            self._block_account(account, wait)
        until = now + timedelta(seconds=wait)
        reason = (
            f"waiting for {platform} rate limit until {until:%Y-%m-%d %H:%M:%S} UTC: "
            f"{error.message}"
        )
        with self.db.session() as session:
            return ledger.record_rate_limited(
                session, delivery_id, until=until, reason=reason, now=now
            )

    def _needs_reconnect(self, channel_id: int, delivery_id: int, error: ChannelError) -> None:
        with self.db.session() as session:
            channel = session.get(t.Channel, channel_id)
            assert channel is not None
            channel.status = "needs_reconnect"
            channel.status_detail = error.message
            ledger.hold(session, delivery_id, reason=f"held: {error.message}", now=utcnow())
            session.add(
                t.AuditEvent(
                    action="needs_reconnect",
                    detail={"channel": channel.name, "error": error.message},
                )
            )

    def _channel_broken(self, channel_id: int, delivery_ids: list[int], problem: str) -> None:
        log.error("channel %s cannot send: %s", channel_id, problem)
        with self.db.session() as session:
            channel = session.get(t.Channel, channel_id)
            if channel is not None:
                channel.status = "error"
                channel.status_detail = problem
                session.add(
                    t.AuditEvent(
                        action="channel_error", detail={"channel": channel.name, "error": problem}
                    )
                )
            session.execute(
                update(t.Delivery)
                .where(t.Delivery.id.in_(delivery_ids), t.Delivery.state == DeliveryState.CLAIMED)
                .values(
                    state=DeliveryState.PENDING, lease_until=None, last_error=f"held: {problem}"
                )
            )

    # -- reconciliation ----------------------------------------------------------------

    def reconcile(self) -> dict[str, int]:
        """Resolve ``unknown`` posts by asking the platform whether the post exists."""
        with self.db.session() as session:
            ids = ledger.claim_unknown_for_reconcile(
                session, kinds=reconcilable_kinds(), now=utcnow(), lease=self.lease
            )
        outcome = {"sent": 0, "resend": 0, "still_unknown": 0}
        for delivery_id in ids:
            try:
                outcome[self._reconcile_one(delivery_id)] += 1
            except Exception:  # one broken row must not keep the others unresolved
                log.exception("delivery %s: reconciliation failed", delivery_id)
                outcome["still_unknown"] += 1
        return outcome

    def _reconcile_one(self, delivery_id: int) -> str:
        with self.db.session() as session:
            row = session.get(t.Delivery, delivery_id)
            assert row is not None
            channel_row = session.get(t.Channel, row.channel_id)
            rendition = session.get(t.Rendition, row.rendition_id)
            assert channel_row is not None and rendition is not None
            key, created_at = row.idem_key, row.created_at
            post = post_from_payload(rendition.payload or {})
        try:
            channel = build_channel(channel_row, self.db, self.settings)
            found = channel.lookup(Outgoing(post=post, created_at=created_at), idempotency_key=key)
        except ChannelError as error:
            log.warning("delivery %s: cannot reconcile yet: %s", delivery_id, error.message)
            return "still_unknown"
        with self.db.session() as session:
            row = session.get(t.Delivery, delivery_id)
            assert row is not None
            if row.state != DeliveryState.UNKNOWN:
                return "still_unknown"
            session.add(
                t.AuditEvent(
                    action="reconcile",
                    article_id=row.article_id,
                    detail={"delivery_id": delivery_id, "found": found is not None},
                )
            )
            if found is not None:
                ledger.record_sent(
                    session, delivery_id, remote_id=found.remote_id, url=found.url, now=utcnow()
                )
                return "sent"
            # Surely not posted: send again with the same key.
            row.state = DeliveryState.PENDING
            row.not_before = utcnow()
            row.lease_until = None
            row.last_error = (
                "reconciled: the post (or the rest of its thread) was not found remotely; "
                "sending again with the same key"
            )
            return "resend"

    # -- email -------------------------------------------------------------------------

    def send_email_batch(
        self, delivery_ids: list[int], *, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Send a batch of one newsletter (the dispatcher groups by rendition) over one
        connection, one recipient at a time.

        Each recipient is claimed and guarded in its own transaction, committed before the
        message leaves; the next transaction records the verdict on it, so a send costs one
        commit."""
        from distributor.newsletter import Newsletter, Prepared

        outcome: dict[str, int] = {}
        if not delivery_ids:
            return outcome
        with self.db.session() as session:
            first = session.get(t.Delivery, delivery_ids[0])
            if first is None:
                return outcome
            channel_id, article_id = first.channel_id, first.article_id
            opened: Newsletter | None = None
            problem = ""
            try:
                opened = Newsletter.open(session, first.rendition_id, channel_id, self.settings)
            except (ChannelError, ValueError) as error:
                problem = error.message if isinstance(error, ChannelError) else str(error)
        if opened is None:
            # A channel that cannot even be opened (bad settings, undecryptable secret) is
            # marked, so the dispatcher stops handing it work; nothing was sent.
            self._channel_broken(channel_id, delivery_ids, problem)
            return {"held": len(delivery_ids)}
        newsletter = opened

        def count(state: str) -> None:
            outcome[state] = outcome.get(state, 0) + 1
            if progress:
                progress(1)

        # One connection for the batch, one transaction (commit) per recipient. The next
        # recipient is claimed and their message personalised while the server is still
        # taking the previous message; its verdict is read, and recorded, in the same
        # transaction.
        connection = self.db.engine.connect()
        submitted: tuple[int, str] | None = None  # handed over, verdict not yet read
        try:
            for delivery_id in [*delivery_ids, None]:
                failure: tuple[int, ChannelError] | None = None
                prepared: Prepared | ChannelError | None = None
                with connection.begin():
                    now = utcnow()
                    recipient = None
                    if delivery_id is not None:
                        recipient = ledger.claim_recipient(
                            connection,
                            delivery_id,
                            rendition_id=newsletter.rendition_id,
                            channel_id=newsletter.channel_id,
                            list_id=newsletter.list_id,
                            now=now,
                            lease=self.lease,
                        )
                    if recipient is not None:
                        try:
                            prepared = newsletter.prepare(recipient)
                        except ChannelError as error:
                            prepared = error
                    if submitted is not None:
                        try:
                            newsletter.confirm()
                            fault("after_email_call")
                            ledger.record_recipient_sent(
                                connection, submitted[0], message_id=submitted[1], now=now
                            )
                            count(DeliveryState.SENT.value)
                        except ChannelError as error:
                            failure = (submitted[0], error)
                        submitted = None
                # Failures are recorded in their own transaction, after this one committed.
                if failure is not None:
                    count(self._email_failed(newsletter, *failure))
                if delivery_id is None:
                    break
                if recipient is None or prepared is None:
                    count("skipped")
                    continue
                try:
                    if isinstance(prepared, ChannelError):
                        raise prepared
                    submitted = (delivery_id, newsletter.submit(prepared))
                except ChannelError as error:
                    count(self._email_failed(newsletter, delivery_id, error))
        finally:
            connection.close()
            newsletter.close()
            if outcome:
                # One audit entry per batch: the ledger has each recipient; the audit log says
                # what went out when, without a row per subscriber.
                with self.db.session() as session:
                    session.add(
                        t.AuditEvent(
                            action="send",
                            article_id=article_id,
                            detail={"channel_id": channel_id, "newsletter_batch": outcome},
                        )
                    )
        return outcome

    def _email_failed(self, newsletter: Any, delivery_id: int, error: ChannelError) -> str:
        state = self._failed(delivery_id, error)
        if error.permanent and not error.ambiguous:
            self._suppress_bounce(delivery_id, error.message)
        if not error.permanent:
            newsletter.reset()
        return state.value

    def _suppress_bounce(self, delivery_id: int, message: str) -> None:
        with self.db.session() as session:
            row = session.get(t.Delivery, delivery_id)
            if row is None or row.subscriber_id is None:
                return
            subscriber = session.get(t.Subscriber, row.subscriber_id)
            if subscriber is not None and not subscriber.suppressed_reason:
                subscriber.suppressed_reason = f"bounce: {message}"[:200]
                session.add(t.AuditEvent(action="bounce", detail={"subscriber_id": subscriber.id}))


def outbox_path(settings: Settings, channel_name: str) -> Path:
    path = settings.outbox_dir / channel_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_deliveries(
    session: Any, *, article_id: int | None = None, state: str | None = None, limit: int = 200
) -> list[t.Delivery]:
    query = select(t.Delivery).order_by(t.Delivery.id).limit(limit)
    if article_id is not None:
        query = query.where(t.Delivery.article_id == article_id)
    if state:
        query = query.where(t.Delivery.state == state)
    return list(session.scalars(query))
