"""Pure rendering: an article becomes a newsletter email or a social post.

Nothing here does I/O beyond reading templates; failures come back as ``RenderError``
values for the preview, never as exceptions in a worker.
"""

from __future__ import annotations

from distributor.rendering.email import EmailContext, render_email
from distributor.rendering.social import render_post
from distributor.rendering.text import Measurement, measure

__all__ = ["EmailContext", "Measurement", "measure", "render_email", "render_post"]
