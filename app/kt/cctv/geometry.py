"""Point-in-polygon for zones drawn in normalised image coordinates."""

from __future__ import annotations

from collections.abc import Sequence


def bottom_centre(bbox: Sequence[float]) -> tuple[float, float]:
    """Where a box touches the ground: the middle of its bottom edge (image y grows downwards)."""
    x, y, w, h = bbox
    return x + w / 2.0, y + h


def point_in_polygon(x: float, y: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting; points on an edge count as inside."""
    n = len(polygon)
    if n < 3:
        return False
    inside = False
    j = n - 1
    for i in range(n):
        xi, yi = polygon[i][0], polygon[i][1]
        xj, yj = polygon[j][0], polygon[j][1]
        if _on_segment(x, y, xi, yi, xj, yj):
            return True
        if (yi > y) != (yj > y):
            x_cross = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < x_cross:
                inside = not inside
        j = i
    return inside


def _on_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float, eps: float = 1e-12) -> bool:
    cross = (px - ax) * (by - ay) - (py - ay) * (bx - ax)
    if abs(cross) > eps:
        return False
    return min(ax, bx) - eps <= px <= max(ax, bx) + eps and min(ay, by) - eps <= py <= max(ay, by) + eps
