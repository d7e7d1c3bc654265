"""Thin task shells: ids in, one service call, nothing else. Names are a wire protocol."""

from __future__ import annotations

from typing import Any

from distributor import services
from workers.app import app


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.dispatch"
)
def dispatch() -> int:
    jobs = services.dispatch_due()
    for job in jobs:
        if job.kind == "email":
            send_email_batch.delay(list(job.delivery_ids))
        else:
            send_post.delay(job.delivery_ids[0])
    return len(jobs)


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.sweep"
)
def sweep() -> dict[str, Any]:
    return services.sweep_and_reconcile()


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.send_post"
)
def send_post(delivery_id: int) -> str:
    return services.sender().send_post(delivery_id)


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.send_email_batch"
)
def send_email_batch(delivery_ids: list[int]) -> dict[str, int]:
    return services.sender().send_email_batch(delivery_ids)


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.check_tokens"
)
def check_tokens() -> int:
    return len(services.check_tokens())


@app.task(  # type: ignore[untyped-decorator]
    name="distributor.poll_feeds"
)
def poll_feeds() -> dict[str, Any]:
    return services.poll_feeds()
