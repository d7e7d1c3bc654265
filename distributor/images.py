"""Article images for link cards and media uploads: fetched through the guarded session,
opened only as the formats we expect, and shrunk under the platforms' size limits."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import requests
from PIL import Image, UnidentifiedImageError

from distributor.http import fetch_bytes

log = logging.getLogger(__name__)

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_DOWNLOAD = 20_000_000
MAX_PIXELS = 40_000_000
# Bluesky's link-card thumbnail limit; Mastodon accepts far more, so one size serves both.
MAX_UPLOAD = 976_000


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    mime: str
    width: int
    height: int


class ImageError(ValueError):
    pass


def fetch_image(session: requests.Session, url: str) -> FetchedImage | None:
    """The image at ``url`` ready to upload, or None (logged) when it cannot be used: a post
    without its picture is better than no post."""
    try:
        response = fetch_bytes(session, url, max_bytes=MAX_DOWNLOAD)
        response.raise_for_status()
        return prepare_image(response.content)
    except (requests.RequestException, ImageError) as error:
        log.warning("image %s not used: %s", url, error)
        return None


def prepare_image(data: bytes, *, max_bytes: int = MAX_UPLOAD) -> FetchedImage:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            image.load()
            fmt = image.format or "PNG"
            if len(data) <= max_bytes:
                return FetchedImage(data, FORMATS[fmt], image.width, image.height)
            return _shrink(image, max_bytes)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        raise ImageError(f"not a usable image: {error}") from None


def _shrink(image: Image.Image, max_bytes: int) -> FetchedImage:
    """Re-encode as JPEG (also dropping EXIF), halving the size until it fits."""
    current = image.convert("RGB")
    for _ in range(8):
        out = io.BytesIO()
        current.save(out, format="JPEG", quality=82, optimize=True)
        if out.tell() <= max_bytes:
            return FetchedImage(out.getvalue(), "image/jpeg", current.width, current.height)
        current = current.resize((max(1, current.width // 2), max(1, current.height // 2)))
    raise ImageError("image cannot be made small enough")
