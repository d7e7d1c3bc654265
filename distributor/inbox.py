"""The inbox: articles newest first, each with one status per channel, in a fixed number of
queries per page (the page, its count, the renditions, the delivery summary) however many
articles or subscribers there are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from distributor.domain import DeliveryState as S
from distributor.paging import Page, bounds
from distributor.storage import tables as t

STATUS_FILTERS = {
    "awaiting": "awaiting review",
    "approved": "approved, not scheduled",
    "rejected": "rejected",
    "scheduled": "scheduled",
    "sent": "sent",
    "failed": "failed",
    "unknown": "unknown: needs a decision",
}
ACTIVE = (S.PENDING.value, S.CLAIMED.value, S.SENDING.value)


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    kind: str
    status: str  # a key of STATUS_FILTERS, or render_error / sending / expired / cancelled
    when: datetime | None = None
    url: str | None = None
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InboxRow:
    id: int
    title: str
    url: str | None
    version: int
    created_at: datetime
    channels: list[ChannelStatus]


def decision_column() -> Any:
    """The newest decision still bound to the rendition's current content (NULL: none)."""
    a = aliased(t.Approval)
    return (
        select(a.decision)
        .where(
            a.rendition_id == t.Rendition.id,
            a.voided_at.is_(None),
            a.content_hash == t.Rendition.content_hash,
        )
        .order_by(a.decided_at.desc(), a.id.desc())
        .limit(1)
        .correlate(t.Rendition)
        .scalar_subquery()
    )


def _status_condition(status: str, channel_id: int | None) -> ColumnElement[bool]:
    """An article-level condition: some channel (or the given one) has ``status``."""
    r, d = t.Rendition, t.Delivery
    same_channel: list[ColumnElement[bool]] = [r.article_id == t.Article.id]
    if channel_id is not None:
        same_channel.append(r.channel_id == channel_id)
    if status in ("awaiting", "approved", "rejected"):
        decision = decision_column()
        if status == "awaiting":
            wanted: ColumnElement[bool] = and_(decision.is_(None), r.error.is_(None))
        else:
            wanted = decision == ("approve" if status == "approved" else "reject")
        no_rows = ~exists(
            select(d.id).where(d.article_id == r.article_id, d.channel_id == r.channel_id)
        )
        return exists(select(r.id).where(*same_channel, wanted, no_rows))
    states = ACTIVE if status == "scheduled" else (status,)
    where = [d.article_id == t.Article.id, d.state.in_(states)]
    if channel_id is not None:
        where.append(d.channel_id == channel_id)
    return exists(select(d.id).where(*where))


def inbox_page(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[InboxRow]:
    if status and status not in STATUS_FILTERS:
        raise FilterError(f"unknown status {status!r}; use one of: {', '.join(STATUS_FILTERS)}")
    page, per_page = bounds(page, per_page)
    conditions: list[ColumnElement[bool]] = []
    channel_id: int | None = None
    if channel:
        channel_id = session.scalar(select(t.Channel.id).where(t.Channel.name == channel))
        if channel_id is None:
            raise LookupError(f"no channel {channel!r}")
        conditions.append(
            exists(
                select(t.Rendition.id).where(
                    t.Rendition.article_id == t.Article.id, t.Rendition.channel_id == channel_id
                )
            )
        )
    if status:
        conditions.append(_status_condition(status, channel_id))
    total = int(session.scalar(select(func.count()).select_from(t.Article).where(*conditions)) or 0)
    articles = session.execute(
        select(
            t.Article.id, t.Article.title, t.Article.url, t.Article.version, t.Article.created_at
        )
        .where(*conditions)
        .order_by(t.Article.created_at.desc(), t.Article.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    statuses = channel_statuses(session, [a.id for a in articles])
    rows = [
        InboxRow(a.id, a.title, a.url, a.version, a.created_at, statuses.get(a.id, []))
        for a in articles
    ]
    return Page(rows, total, page, per_page)


def channel_statuses(session: Session, article_ids: list[int]) -> dict[int, list[ChannelStatus]]:
    """Per article, per channel: the headline status, in two queries for any number of ids."""
    if not article_ids:
        return {}
    renditions = session.execute(
        select(
            t.Rendition.article_id,
            t.Rendition.channel_id,
            t.Rendition.error,
            decision_column().label("decision"),
            t.Channel.name,
            t.Channel.kind,
        )
        .join(t.Channel, t.Channel.id == t.Rendition.channel_id)
        .where(t.Rendition.article_id.in_(article_ids))
        .order_by(t.Channel.id)
    ).all()
    d = t.Delivery
    summary: dict[tuple[int, int], dict[str, tuple[int, Any, Any, Any]]] = {}
    for row in session.execute(
        select(
            d.article_id,
            d.channel_id,
            d.state,
            func.count(),
            func.min(d.not_before),
            func.max(d.remote_url),
            func.max(d.last_error),
        )
        .where(d.article_id.in_(article_ids))
        .group_by(d.article_id, d.channel_id, d.state)
    ).all():
        summary.setdefault((row[0], row[1]), {})[row[2]] = (row[3], row[4], row[5], row[6])
    result: dict[int, list[ChannelStatus]] = {}
    for r in renditions:
        states = summary.get((r.article_id, r.channel_id), {})
        result.setdefault(r.article_id, []).append(
            _headline(r.name, r.kind, r.error, r.decision, states)
        )
    return result


def _headline(
    name: str,
    kind: str,
    error: str | None,
    decision: str | None,
    states: dict[str, tuple[int, Any, Any, Any]],
) -> ChannelStatus:
    counts = {state: v[0] for state, v in states.items()}
    if states:
        # What needs a person first, then what is still to come, then what is done.
        for state in (S.UNKNOWN, S.FAILED, S.SENDING, S.CLAIMED, S.PENDING, S.SENT):
            if state.value in states:
                _, first, url, reason = states[state.value]
                status = {
                    S.CLAIMED: "sending",
                    S.SENDING: "sending",
                    S.PENDING: "scheduled",
                }.get(state, state.value)
                return ChannelStatus(
                    name,
                    kind,
                    status,
                    when=first if status == "scheduled" else None,
                    url=url if state == S.SENT and _is_link(url) else None,
                    reason=reason if state in (S.FAILED, S.UNKNOWN) else None,
                    counts=counts,
                )
        state_name, (_, _, _, reason) = next(iter(states.items()))
        return ChannelStatus(name, kind, state_name, reason=reason, counts=counts)
    if error:
        return ChannelStatus(name, kind, "render_error", reason=error)
    if decision == "approve":
        return ChannelStatus(name, kind, "approved")
    if decision == "reject":
        return ChannelStatus(name, kind, "rejected")
    return ChannelStatus(name, kind, "awaiting")


def _is_link(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def channel_names(session: Session) -> list[str]:
    return list(session.scalars(select(t.Channel.name).order_by(t.Channel.id)))
