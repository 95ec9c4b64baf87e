"""The site screen's shared copy: one reader builds, the others are never held up by that build."""

from __future__ import annotations

import threading

from app.kt.robots.live import SiteCache


class _Db:
    """Any object stands for a database: the cache keys on its identity."""


def test_a_change_makes_the_next_reader_build_and_others_get_the_previous_copy():
    db, site_id = _Db(), 987654
    builds: list[int] = []

    def build(tag: bytes):
        def run() -> bytes:
            builds.append(1)
            return tag
        return run

    assert SiteCache.get(db, site_id, build(b"v1")) == b"v1"
    assert SiteCache.get(db, site_id, build(b"never")) == b"v1"  # shared within the TTL
    assert len(builds) == 1

    SiteCache.drop({site_id})
    started, release = threading.Event(), threading.Event()

    def slow_build() -> bytes:
        started.set()
        assert release.wait(10)
        return b"v2"

    result: list[bytes] = []
    builder = threading.Thread(target=lambda: result.append(SiteCache.get(db, site_id, slow_build)))
    builder.start()
    assert started.wait(10)
    # While v2 is being built, another reader gets v1 at once instead of waiting.
    assert SiteCache.get(db, site_id, build(b"never")) == b"v1"
    SiteCache.drop({site_id})  # a change committed during the build
    release.set()
    builder.join(10)
    assert result == [b"v2"]
    # v2 was begun before the last change: the next reader builds again.
    assert SiteCache.get(db, site_id, build(b"v3")) == b"v3"
    assert SiteCache.get(db, site_id, build(b"never")) == b"v3"


def test_the_first_reader_of_a_site_waits_for_the_only_build():
    db, site_id = _Db(), 987655
    started, release = threading.Event(), threading.Event()

    def slow_build() -> bytes:
        started.set()
        assert release.wait(10)
        return b"first"

    results: list[bytes] = []
    first = threading.Thread(target=lambda: results.append(SiteCache.get(db, site_id, slow_build)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(SiteCache.get(db, site_id, lambda: b"other")))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # nothing to serve yet: it waits rather than building twice
    release.set()
    first.join(10)
    second.join(10)
    assert results == [b"first", b"first"]
