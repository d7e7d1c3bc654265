"""Pure rendering: an article becomes a newsletter email or a social post.

Nothing here does I/O beyond reading templates; failures come back as ``RenderError``
values for the preview, never as exceptions in a worker.
"""

from __future__ import annotations

# counting registers every network's rule in text.MEASURES: importing the package (which any
# import of one of its modules does first) makes measure() know all of them.
from distributor.rendering.counting import measure
from distributor.rendering.email import EmailContext, render_email
from distributor.rendering.options import PostOptions, Utm, with_utm
from distributor.rendering.social import PostSource, render_post
from distributor.rendering.text import Measurement

__all__ = [
    "EmailContext",
    "Measurement",
    "PostOptions",
    "PostSource",
    "Utm",
    "measure",
    "render_email",
    "render_post",
    "with_utm",
]
