"""Who may approve what, and approvals bound to the exact content they approved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.domain import Role
from distributor.storage import tables as t
from distributor.storage.tables import utcnow

APPROVE = "approve"
REJECT = "reject"


class NotAllowed(PermissionError):
    pass


class ApprovalError(ValueError):
    pass


def require_role(user: t.User, *roles: Role) -> None:
    if user.role not in {r.value for r in roles}:
        allowed = ", ".join(r.value for r in roles)
        raise NotAllowed(f"{user.email} is {user.role}; this needs one of: {allowed}")


def current_decision(session: Session, rendition: t.Rendition) -> t.Approval | None:
    """The latest decision that still applies to the rendition's current content."""
    decision: t.Approval | None = session.scalars(
        select(t.Approval)
        .where(
            t.Approval.rendition_id == rendition.id,
            t.Approval.voided_at.is_(None),
            t.Approval.content_hash == rendition.content_hash,
        )
        .order_by(t.Approval.decided_at.desc(), t.Approval.id.desc())
        .limit(1)
    ).first()
    return decision


def is_approved(session: Session, rendition: t.Rendition, content_hash: str) -> bool:
    """True only if the newest valid decision approves exactly ``content_hash``."""
    if rendition.content_hash != content_hash or rendition.error:
        return False
    decision = current_decision(session, rendition)
    return decision is not None and decision.decision == APPROVE


def decide(
    session: Session, rendition: t.Rendition, user: t.User, decision: str, comment: str = ""
) -> t.Approval:
    if decision == APPROVE:
        require_role(user, Role.APPROVER, Role.ADMIN)
        _check_two_person_rule(session, rendition, user)
        if rendition.error:
            raise ApprovalError(
                f"cannot approve a rendition that failed to render: {rendition.error}"
            )
    else:
        require_role(user, Role.EDITOR, Role.APPROVER, Role.ADMIN)
    approval = t.Approval(
        rendition_id=rendition.id,
        content_hash=rendition.content_hash,
        decision=decision,
        user_id=user.id,
        comment=comment,
        decided_at=utcnow(),
    )
    session.add(approval)
    session.add(
        t.AuditEvent(
            user_id=user.id,
            action=decision,
            article_id=rendition.article_id,
            detail={
                "rendition_id": rendition.id,
                "channel_id": rendition.channel_id,
                "content_hash": rendition.content_hash,
                "comment": comment,
            },
        )
    )
    return approval


def _check_two_person_rule(session: Session, rendition: t.Rendition, user: t.User) -> None:
    from distributor.organisation import two_person_rule

    if rendition.edited_by == user.id and two_person_rule(session):
        raise NotAllowed(
            "two-person rule: you made the last edit to this text, so another approver "
            "must approve it"
        )


def void_approvals(session: Session, rendition: t.Rendition) -> int:
    """An edit or a re-render voids every earlier decision on the rendition."""
    voided = 0
    for approval in session.scalars(
        select(t.Approval).where(
            t.Approval.rendition_id == rendition.id, t.Approval.voided_at.is_(None)
        )
    ):
        approval.voided_at = utcnow()
        voided += 1
    return voided
