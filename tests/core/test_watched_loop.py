"""WatchedLoop: rounds run while someone watches; each round learns when the previous good one started."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from app.core.live import WatchedLoop


def test_rounds_run_while_watched_and_a_failed_round_is_covered_by_the_next():
    calls: list[tuple[datetime, str]] = []
    done = threading.Event()

    def tick(database, since, label):
        calls.append((since, label))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        if len(calls) == 4:
            done.set()

    loop = WatchedLoop("test-loop", 0.02, tick)
    database = object()
    loop.watch(database, "a")
    loop.watch(database, "b")  # a second screen shares the first one's thread
    assert done.wait(5)
    loop.unwatch(database)
    time.sleep(0.1)
    assert len(calls) >= 4  # one screen still watches
    loop.unwatch(database)
    time.sleep(0.1)
    stopped_at = len(calls)
    time.sleep(0.15)
    assert len(calls) == stopped_at  # nobody watches: no more rounds
    assert {label for _since, label in calls} == {"a"}
    sinces = [since for since, _label in calls]
    assert sinces[0] < sinces[1]
    assert sinces[2] == sinces[1]  # round 2 failed: round 3 covers its time too
    assert sinces[3] > sinces[2]
