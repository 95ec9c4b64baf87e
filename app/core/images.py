"""Uploaded images told by their content, never by their name or declared type."""

from __future__ import annotations

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


def sniff_image(content: bytes) -> str | None:
    """The image type by content, not by name or header: ``image/jpeg``, ``image/png`` or None."""
    if content.startswith(JPEG_MAGIC) and content.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return "image/jpeg"
    if content.startswith(PNG_MAGIC) and len(content) > 33 and content[12:16] == b"IHDR" and b"IEND" in content[-16:]:
        return "image/png"
    return None
