"""The heat maps' colour scale: classes by quantile, so one large value does not paint every other cell the
same shade, and a legend whose ranges cover every value shown."""

from __future__ import annotations

from app.core.templating import QuantileScale


def test_cells_spread_evenly_over_the_classes_despite_an_outlier():
    grid = [[float(v) for v in range(1, 25)] for _ in range(6)] + [[10_000.0] + [None] * 23]
    scale = QuantileScale(grid)
    counts = [0] * 5
    for row in grid:
        for v in row:
            if v is not None:
                counts[scale(v) - 1] += 1
    assert all(counts) and max(counts) - min(counts) <= 12, counts  # a linear scale would put 144 of 145 in one
    assert scale(10_000.0) == 5 and scale(1.0) == 1
    assert scale.bands[0][0] == 1.0 and scale.bands[-1][1] == 10_000.0 and len(scale.bands) == 5
    assert all(low <= high for low, high in scale.bands)


def test_equal_or_missing_values_make_one_class():
    same = QuantileScale([[7, 7, None], [7]])
    assert same.bands == [(7.0, 7.0)] and same(7) == 1
    assert QuantileScale([[None]]).bands == [(0.0, 0.0)]
