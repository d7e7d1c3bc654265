"""Named fault points for crash tests: ``DISTRIBUTOR_FAULT_POINT=after_post_call`` makes the
process SIGKILL itself right there, the way an OOM kill or a power cut would."""

from __future__ import annotations

import os
import signal

from distributor.config import get_settings


def fault(point: str) -> None:
    if get_settings().fault_point == point:
        os.kill(os.getpid(), signal.SIGKILL)
