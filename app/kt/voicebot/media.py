"""Photos filed with Open311 requests (the multipart ``media`` field).

A photo is kept only when its content is a JPEG or PNG image no larger than the configured cap; it is
written under a random 128-bit name and its link (``/open311/v2/media/<name>``) becomes the request's
``media_url``. Only credentialed readers are shown that link (the public feed drops it, see
``publication.public_view``), and each time the photo is served an access record names the request.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.core.images import EXTENSIONS, sniff_image
from app.core.tenancy import Principal, all_tenants, bind_principal
from app.kt.voicebot.models import VoicebotRequest
from app.platform import audit

LINK = "/open311/v2/media/"
NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png)")
TYPES = {ext: content_type for content_type, ext in EXTENSIONS.items()}


def check(content: bytes, *, max_bytes: int) -> str:
    """The photo's content type, or a 400 naming ``media``: empty, too large, or not a JPEG/PNG image."""
    if not content:
        raise InvalidInput.field("media", "The file is empty")
    if len(content) > max_bytes:
        raise InvalidInput.field("media", "The image is larger than {max} bytes", max=max_bytes)
    content_type = sniff_image(content)
    if content_type is None:
        raise InvalidInput.field("media", "The file is not a JPEG or PNG image")
    return content_type


def store(content: bytes, *, content_type: str, root: Path) -> str:
    """Write a checked photo under a fresh random name; returns the link kept as the request's media_url."""
    name = f"{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
    target = root / name[:2] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    return LINK + name


def absolute(media_url: str | None, base_url: str) -> str | None:
    """A stored link as the URL a client follows (this server's own uploads are kept as paths)."""
    if media_url and media_url.startswith(LINK):
        return base_url.rstrip("/") + media_url
    return media_url


def read(db: Session, *, name: str, root: Path) -> tuple[bytes, str]:
    """The photo behind a link, with its content type; the read is recorded against its request."""
    if not NAME.fullmatch(name):
        raise NotFound("Media {name} not found", name=name[:40])
    with all_tenants(db):  # the link is the credential: the request is found before anyone is bound
        request = db.scalar(select(VoicebotRequest).where(VoicebotRequest.media_url == LINK + name))
    if request is None:
        raise NotFound("Media {name} not found", name=name)
    try:
        content = (root / name[:2] / name).read_bytes()
    except OSError:
        raise NotFound("Media {name} not found", name=name) from None
    bind_principal(db, Principal(kind="api_key", id=None, name="open311:media", role="viewer",
                                 municipality_id=request.municipality_id,
                                 municipality_ids=frozenset({request.municipality_id}),
                                 scopes=frozenset({"kt.voicebot:read"})))
    audit.record_access(db, action="view", subject_type="vb_request_media", subject_id=str(request.id),
                        municipality_id=request.municipality_id, data_subject=request.contact_masked or "",
                        detail={"media": name})
    return content, TYPES[name.rsplit(".", 1)[1]]
