"""Percentile ranks within a population: the selectors rank a cluster's faces with them, the weak
labels of ``scoring.quality`` a whole title's."""

from __future__ import annotations

import numpy as np


def percentiles(values: np.ndarray) -> np.ndarray:
    """Percentile in [0, 100] of each of (N,) ``values``, larger better: the share of the other
    values that it is at least as large as (100 for a single value). NaN values stay NaN and
    are not counted among the others."""
    values = np.asarray(values, dtype=np.float64)
    measured = np.isfinite(values)
    result = np.full(len(values), np.nan)
    count = int(measured.sum())
    if count <= 1:
        result[measured] = 100.0
        return result
    ordered = np.sort(values[measured])
    at_most = np.searchsorted(ordered, values[measured], side="right") - 1  # others <= this one
    result[measured] = 100.0 * at_most / (count - 1)
    return result
