"""The site map keeps every label inside its viewBox and keeps robots on one spot apart."""

from __future__ import annotations

import math
import re

import pytest

from app.kt.robots import mapview
from app.kt.robots.models import RobotPlace, RobotSite
from tests.conftest import web_login
from tests.kt.robots.conftest import state

API = "/api/v1/kt/robots"


def _robot(rid: int, name: str, x: float, y: float) -> dict:
    return {"id": rid, "name": name, "status": "idle", "position": {"x": x, "y": y, "theta": 0.0}}


def _inside(box: mapview.Box, bounds: mapview.Box) -> bool:
    return (box.left >= bounds.left - 1e-9 and box.right <= bounds.right + 1e-9
            and box.top >= bounds.top - 1e-9 and box.bottom <= bounds.bottom + 1e-9)


def _overlap(a: mapview.Box, b: mapview.Box) -> bool:
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


@pytest.mark.parametrize(("x", "y"), [(0, 0), (30, 0), (30, 20), (0, 20), (15, 0), (0, 10), (29.5, 19.8)])
def test_labels_near_an_edge_or_a_corner_stay_inside_the_viewbox(x, y):
    site = RobotSite(name="민원실", map_width_m=30, map_height_m=20,
                     places=[RobotPlace(name="민원 안내 데스크 (본관)", kind="desk", x=x, y=y)])
    drawn = mapview.site_map(site, [_robot(1, "안내로봇 1호 (KT GR-1)", x, y)])
    view = drawn["view"]
    place, robot = drawn["places"][0], drawn["robots"][0]
    assert _inside(place["label"].extent("민원 안내 데스크 (본관)"), view)
    assert _inside(robot["label"].extent("안내로봇 1호 (KT GR-1)"), view)
    assert (robot["x"], robot["y"]) == (x, y) and not robot["moved"]  # a lone robot is drawn where it is


def test_a_label_at_the_top_goes_below_its_mark_and_one_in_the_open_stays_above():
    bounds = mapview.Box(-1, -1, 31, 21)
    top = mapview.place_label(10, 0, text="로봇", size=1, gap=1.6, side="above", bounds=bounds)
    assert top.y > 0 and top.anchor == "middle"
    open_floor = mapview.place_label(10, 10, text="로봇", size=1, gap=1.6, side="above", bounds=bounds)
    assert open_floor == mapview.Label(10, 8.4, "middle", 1)
    right = mapview.place_label(30, 10, text="로봇", size=1, gap=1.4, side="right", bounds=bounds)
    assert right.anchor == "end" and right.x < 30  # turned to the left of a mark at the right edge


@pytest.mark.parametrize("n", [2, 3, 5, 8])
@pytest.mark.parametrize(("x", "y"), [(12, 8), (0, 0), (30, 20)])
def test_robots_on_one_spot_are_fanned_out_apart_inside_the_map_with_names_apart(n, x, y):
    site = RobotSite(name="민원실", map_width_m=30, map_height_m=20, places=[])
    robots = [_robot(i, f"안내로봇 {i}호", x, y) for i in range(1, n + 1)]
    drawn = mapview.site_map(site, robots)
    u, marks = drawn["u"], drawn["robots"]
    assert all(m["moved"] for m in marks) and [(m["true_x"], m["true_y"]) for m in marks] == [(x, y)] * n
    for i, a in enumerate(marks):
        assert 0 <= a["x"] <= 30 and 0 <= a["y"] <= 20
        assert _inside(a["label"].extent(a["robot"]["name"]), drawn["view"])
        for b in marks[i + 1:]:
            assert math.dist((a["x"], a["y"]), (b["x"], b["y"])) >= 2 * mapview.MARKER * u  # markers do not touch
            assert not _overlap(a["label"].extent(a["robot"]["name"]), b["label"].extent(b["robot"]["name"]))


def test_robots_apart_stay_where_they_are():
    site = RobotSite(name="민원실", map_width_m=30, map_height_m=20, places=[])
    marks = mapview.site_map(site, [_robot(1, "가", 5, 5), _robot(2, "나", 20, 5), _robot(3, "다", 5, 15)])["robots"]
    assert [(m["x"], m["y"], m["moved"]) for m in marks] == [(5, 5, False), (20, 5, False), (5, 15, False)]


def test_the_site_screen_draws_two_robots_at_one_spot_apart_and_states_where_they_are(client, fleet, auth):
    h = auth("cw.staff")
    for robot in (fleet.guide_a, fleet.guide_b):
        assert client.post(f"{API}/{robot}/state", json=state(x=12, y=8), headers=h).status_code == 200
    web_login(client, "cw.staff")
    html = client.get(f"/kt/robots/sites/{fleet.site_id}").text
    markers = {}
    for robot in (fleet.guide_a, fleet.guide_b):
        group = re.search(rf'<g class="robot moved" data-robot="{robot}" data-x="12.0" data-y="8.0">(.*?)</g>',
                          html, re.S).group(1)
        assert "위치 (12, 8)&nbsp;m" in group  # the tooltip states the true position
        markers[robot] = re.search(r'<circle cx="([\d.]+)" cy="([\d.]+)" r=', group).groups()
    assert markers[fleet.guide_a] != markers[fleet.guide_b]


CORNERS = [(0, 0), (30, 0), (30, 20), (0, 20)]


@pytest.mark.parametrize(("x", "y"), CORNERS)
def test_a_place_and_a_robot_in_one_corner_keep_their_labels_apart_and_inside(x, y):
    # In a corner both labels are turned away from the edges: the robot's from above to below its mark, onto
    # the place's own side. The place's name then takes the next free slot instead of hiding under the robot's.
    site = RobotSite(name="민원실", map_width_m=30, map_height_m=20,
                     places=[RobotPlace(name="충전 도크", kind="dock", x=x, y=y)])
    drawn = mapview.site_map(site, [_robot(1, "안내로봇 1호", x, y)])
    place_box = drawn["places"][0]["label"].extent("충전 도크")
    robot_box = drawn["robots"][0]["label"].extent("안내로봇 1호")
    assert not _overlap(place_box, robot_box)
    assert _inside(place_box, drawn["view"]) and _inside(robot_box, drawn["view"])


def test_labels_crowding_one_spot_each_take_the_next_free_slot_in_the_same_order_every_time():
    site = RobotSite(name="민원실", map_width_m=30, map_height_m=20,
                     places=[RobotPlace(name=f"창구 {n}", kind="desk", x=1, y=1) for n in range(1, 6)])
    robots = [_robot(1, "안내로봇 1호", 1, 1), _robot(2, "순찰로봇", 4, 1)]
    drawn = mapview.site_map(site, robots)
    boxes = [p["label"].extent(p["place"].name) for p in drawn["places"]]
    boxes += [m["label"].extent(m["robot"]["name"]) for m in drawn["robots"]]
    assert all(_inside(b, drawn["view"]) for b in boxes)
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if _overlap(a, b)]
    assert mapview.site_map(site, robots) == drawn  # deterministic: the same map draws the same way


def test_a_label_alone_keeps_its_own_side():
    taken: list[mapview.Box] = []
    bounds = mapview.Box(-1, -1, 31, 21)
    alone = mapview.free_label(10, 10, text="창구", size=1, gap=1.1, side="below", bounds=bounds, taken=taken)
    assert alone == mapview.place_label(10, 10, text="창구", size=1, gap=1.1, side="below", bounds=bounds)
    assert taken == [alone.extent("창구")]
    beside = mapview.free_label(10, 10, text="창구", size=1, gap=1.1, side="below", bounds=bounds, taken=taken)
    assert beside.y < 10  # the same label again: the opposite side, above the mark
