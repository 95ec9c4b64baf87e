"""``make i18n-update``: append the messages ``make i18n-extract`` found that a Korean catalogue lacks.

A module's message already in the shared catalogues (core, platform) is not added again.
``pybabel update`` would also mark obsolete every message it did not extract: the words whose English comes
from data (navigation labels, statuses, roles, ``_(j.status)``) and the shared words of the core used by
other packages' templates, hundreds of them. So the catalogues are only added to: each new message is
appended, untranslated, at the end of its ``ko.po`` (the rest of the file is left as it is), and
``tests/core/test_i18n.py`` fails until it has its Korean.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po

from app.core.i18n import APP_DIR, SHARED_CATALOGUES


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _read(path: Path):
    with path.open("rb") as fh:
        return read_po(fh, locale="ko")


def add_missing(pot: Path, po: Path) -> int:
    """Append to ``po`` the messages of ``pot`` that neither it nor the shared catalogues hold."""
    catalogs = [_read(po), *(_read(path) for path in SHARED_CATALOGUES if path != po)]
    with pot.open("rb") as fh:
        template = read_po(fh)
    entries = []
    for message in template:
        if not message.id or any(c.get(message.id, context=message.context) is not None for c in catalogs):
            continue
        lines = [f"msgctxt {_quote(message.context)}"] if message.context else []
        if isinstance(message.id, tuple):
            lines += [f"msgid {_quote(message.id[0])}", f"msgid_plural {_quote(message.id[1])}", 'msgstr[0] ""']
        else:
            lines += [f"msgid {_quote(message.id)}", 'msgstr ""']
        entries.append("\n".join(lines) + "\n")
    if entries:
        text = po.read_text(encoding="utf-8").rstrip("\n") + "\n"
        po.write_text(text + "".join("\n" + entry for entry in entries), encoding="utf-8")
    return len(entries)


def main(build: str) -> None:
    for pot in sorted(Path(build).glob("*.pot")):
        po = APP_DIR.joinpath(*pot.stem.split("."), "translations", "ko.po")
        added = add_missing(pot, po)
        if added:
            print(f"{po.relative_to(APP_DIR.parent)}: {added} new message(s) to translate")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/i18n")
