"""The Celery app: JSON only, ids only, late acks, one message at a time, no long ETAs.

Run: ``celery -A workers.app worker -Q render,email,social`` and ``celery -A workers.app beat``.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from celery.schedules import crontab
from kombu import Queue  # type: ignore[attr-defined]

from distributor.broker import QUEUES
from distributor.config import get_settings

settings = get_settings()


def transport_options() -> dict[str, object]:
    if settings.uses_embedded_broker:
        # kombu's SQLAlchemy transport hands these to create_engine(); it polls every second.
        return {}
    # Redis re-delivers anything unacked after this long; the longest task is far shorter.
    return {"visibility_timeout": 3600, "polling_interval": 0.5}


app = Celery("distributor", include=["workers.tasks"])
app.conf.update(
    broker_url=settings.broker_url,
    broker_connection_retry_on_startup=True,
    broker_transport_options=transport_options(),
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=300,
    task_soft_time_limit=280,
    worker_soft_shutdown_timeout=20,
    worker_hijack_root_logger=False,
    task_queues=[Queue(name) for name in QUEUES],  # type: ignore[no-untyped-call]
    task_default_queue="render",
    task_routes={
        "distributor.send_post": {"queue": "social"},
        "distributor.send_email_batch": {"queue": "email"},
    },
    beat_schedule={
        "dispatch": {
            "task": "distributor.dispatch",
            "schedule": timedelta(seconds=settings.dispatch_interval_seconds),
            "options": {"expires": settings.dispatch_interval_seconds * 4},
        },
        "sweep": {
            "task": "distributor.sweep",
            "schedule": timedelta(seconds=settings.sweep_interval_seconds),
            "options": {"expires": settings.sweep_interval_seconds * 4},
        },
        "poll-feeds": {
            "task": "distributor.poll_feeds",
            "schedule": timedelta(seconds=settings.feed_poll_interval_seconds),
            "options": {"expires": settings.feed_poll_interval_seconds},
        },
        # A fixed time of day, not a 24 h interval: restarts would keep pushing an interval on.
        "check-tokens": {
            "task": "distributor.check_tokens",
            "schedule": crontab(minute=0, hour=6),
            "options": {"expires": 3600},
        },
    },
)
