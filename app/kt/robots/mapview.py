"""Where things are drawn on a site's floor map (the SVG of the site screen), in the map's metres.

Two rules the drawing keeps, whatever the positions:

* every label stays inside the map's viewBox: a label that would cross an edge moves along it, and one
  that would leave by the top (bottom, left, right) goes to the other side of its mark;
* robots on one spot stay apart: robots whose markers would overlap are drawn on a small circle around
  their middle (a thin line leads to each one's true position, which its tooltip states), their names in
  a column beside the group, top to bottom in the order of the markers, so no name covers another;
* no label covers another: labels are laid out one after another (the robots' first, then the places'),
  each in the first free slot around its mark (its own side, the opposite one, right, left, then the same
  farther out), so a place's name never hides under a robot's, even in a corner where both are turned.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any

MARKER = 1.1  # a robot's marker radius, in map units (u: the longer side / 60)
ROBOT_FONT = 1.2
PLACE_FONT = 1.1
SIDES = ("above", "below", "right", "left")
FLIP = {"above": "below", "below": "above", "left": "right", "right": "left"}
RINGS = 6  # how many times a label crowded out of every side tries again one line farther out


@dataclass(frozen=True)
class Box:
    """The drawable area: ``left``/``top`` to ``right``/``bottom`` (the SVG's y grows downwards)."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    anchor: str  # start | middle | end
    size: float

    def extent(self, text: str) -> Box:
        """The box the label's glyphs cover (estimated: a Hangul syllable is about 1 em wide, Latin 0.6 em)."""
        width = text_width(text, self.size)
        left = {"start": self.x, "middle": self.x - width / 2, "end": self.x - width}[self.anchor]
        return Box(left, self.y - 0.9 * self.size, left + width, self.y + 0.25 * self.size)


def text_width(text: str, size: float) -> float:
    """How wide ``text`` is drawn at font ``size``: wide (CJK) characters 1 em, others 0.6 em."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text) * size


def place_label(x: float, y: float, *, text: str, size: float, gap: float, side: str, bounds: Box) -> Label:
    """A label beside the point (``x``, ``y``) on ``side`` (above, below, left, right) at distance ``gap``,
    turned to the other side when it would leave ``bounds`` there, then moved along the edge to fit."""
    def at(side: str) -> Label:
        if side == "above":
            return Label(x, y - gap, "middle", size)
        if side == "below":
            return Label(x, y + gap + 0.75 * size, "middle", size)
        if side == "left":
            return Label(x - gap, y + 0.35 * size, "end", size)
        return Label(x + gap, y + 0.35 * size, "start", size)

    label = at(side)
    box = label.extent(text)
    leaves = {"above": box.top < bounds.top, "below": box.bottom > bounds.bottom,
              "left": box.left < bounds.left, "right": box.right > bounds.right}
    if leaves[side]:
        label = at(FLIP[side])
        box = label.extent(text)
    dx = _shift(box.left, box.right, bounds.left, bounds.right)
    dy = _shift(box.top, box.bottom, bounds.top, bounds.bottom)
    return Label(round(label.x + dx, 3), round(label.y + dy, 3), label.anchor, size)


def overlap(a: Box, b: Box) -> bool:
    """Whether two boxes cover a common area (touching edges do not)."""
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def free_label(x: float, y: float, *, text: str, size: float, gap: float, side: str, bounds: Box,
               taken: list[Box]) -> Label:
    """As :func:`place_label`, in the first slot whose box covers none of the ``taken`` ones: ``side``, the
    opposite side, then the others (right before left, above before below), then all again one line farther
    out. The box is added to ``taken``; when no slot is free the label goes on ``side`` as it would alone."""
    order = [side, FLIP[side], *(s for s in SIDES if s not in (side, FLIP[side]))]
    for ring in range(RINGS):
        for candidate in order:
            label = place_label(x, y, text=text, size=size, gap=gap + ring * 1.3 * size, side=candidate,
                                bounds=bounds)
            box = label.extent(text)
            if not any(overlap(box, other) for other in taken):
                taken.append(box)
                return label
    label = place_label(x, y, text=text, size=size, gap=gap, side=side, bounds=bounds)
    taken.append(label.extent(text))
    return label


def _shift(low: float, high: float, floor: float, ceiling: float) -> float:
    """How far to move [low, high] to lie within [floor, ceiling] (centred when it is wider)."""
    if high - low > ceiling - floor:
        return (floor + ceiling) / 2 - (low + high) / 2
    if low < floor:
        return floor - low
    if high > ceiling:
        return ceiling - high
    return 0.0


def spread(points: list[tuple[float, float]], *, radius: float,
           bounds: Box) -> tuple[list[tuple[float, float]], list[list[int]]]:
    """Where to draw markers of ``radius`` at ``points`` so that none covers another: a group whose markers
    would touch is drawn on a circle around its middle (the first at the top, clockwise), the circle kept
    within ``bounds``. Answers the drawn (x, y) per point, in order, and the groups of two or more (indices)."""
    groups: list[list[int]] = []
    for i, (x, y) in enumerate(points):
        for group in groups:
            if any(math.dist((x, y), points[j]) < 2 * radius for j in group):
                group.append(i)
                break
        else:
            groups.append([i])
    out = list(points)
    crowds = [g for g in groups if len(g) > 1]
    for group in crowds:
        n = len(group)
        ring = 1.3 * radius / math.sin(math.pi / n)  # neighbours on the ring are 2.6 radii apart
        cx = sum(points[i][0] for i in group) / n
        cy = sum(points[i][1] for i in group) / n
        reach = ring + radius
        cx += _shift(cx - reach, cx + reach, bounds.left, bounds.right)
        cy += _shift(cy - reach, cy + reach, bounds.top, bounds.bottom)
        for k, i in enumerate(group):
            angle = -math.pi / 2 + 2 * math.pi * k / n
            out[i] = (round(cx + ring * math.cos(angle), 3), round(cy + ring * math.sin(angle), 3))
    return out, crowds


def column(marks: list[tuple[float, float, str]], *, size: float, gap: float, bounds: Box) -> list[Label]:
    """Labels of a fanned-out group, one per line in a column beside it (right, or left when the right has
    no room), in the order of the marks from top to bottom, so that no two names cover each other."""
    left = min(x for x, _y, _t in marks) - gap
    right = max(x for x, _y, _t in marks) + gap
    middle = sum(y for _x, y, _t in marks) / len(marks)
    widest = max(text_width(t, size) for _x, _y, t in marks)
    line = 1.3 * size
    order = sorted(range(len(marks)), key=lambda i: (marks[i][1], marks[i][0]))
    overflow_right, overflow_left = right + widest - bounds.right, bounds.left - (left - widest)
    if overflow_right <= 0 or overflow_right < overflow_left:
        x, anchor, low, high = right, "start", right, right + widest
    else:
        x, anchor, low, high = left, "end", left - widest, left
    dx = _shift(low, high, bounds.left, bounds.right)
    top = middle - len(marks) * line / 2
    dy = _shift(top, top + len(marks) * line, bounds.top, bounds.bottom)
    labels: list[Label] = [Label(0, 0, "start", size)] * len(marks)
    for row, i in enumerate(order):
        labels[i] = Label(round(x + dx, 3), round(top + dy + row * line + 0.95 * size, 3), anchor, size)
    return labels


def site_map(site: Any, robots: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the map draws: the unit ``u``, the viewBox, the places with their labels, and the robots
    that have a position with where their marker and label go (``x``/``y``: drawn; ``true_x``/``true_y``:
    reported; ``moved``: drawn away from its true position to stay distinguishable)."""
    w, h = float(site.map_width_m), float(site.map_height_m)
    u = max(w, h) / 60
    view = Box(-u, -u, w + u, h + u)
    shown = [r for r in robots if r.get("position")]
    true = [(float(r["position"]["x"]), float(r["position"]["y"])) for r in shown]
    drawn, crowds = spread(true, radius=u * MARKER, bounds=Box(0, 0, w, h))
    taken: list[Box] = []  # the labels laid out so far: each next one is kept clear of them
    labels: dict[int, Label] = {}
    for group in crowds:
        names = [(*drawn[i], shown[i]["name"]) for i in group]
        for i, label in zip(group, column(names, size=u * ROBOT_FONT, gap=u * 1.5, bounds=view), strict=True):
            labels[i] = label
            taken.append(label.extent(shown[i]["name"]))
    marks = []
    for i, r in enumerate(shown):
        moved = i in labels
        label = labels.get(i) or free_label(*drawn[i], text=r["name"], size=u * ROBOT_FONT, gap=u * 1.6,
                                            side="above", bounds=view, taken=taken)
        x, y = drawn[i] if moved else (r["position"]["x"], r["position"]["y"])
        marks.append({"robot": r, "x": x, "y": y, "true_x": true[i][0], "true_y": true[i][1], "moved": moved,
                      "label": label})
    places = [{"place": p, "label": free_label(p.x, p.y, text=p.name, size=u * PLACE_FONT, gap=u * 1.1,
                                               side="below", bounds=view, taken=taken)}
              for p in site.places]
    return {"u": u, "view": view, "places": places, "robots": marks}
