"""The singer's global tuning: how far, in cents, the voice sits from the equal-tempered grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.score import SungNote


def estimate_tuning_cents(notes: Sequence[SungNote]) -> float:
    """Duration-weighted circular mean of the notes' distance to the nearest semitone, in cents
    (-50..+50). A singer 35 cents flat throughout gives about -35."""
    if not notes:
        return 0.0
    pitch = np.array([n.pitch for n in notes], dtype=np.float64)
    weight = np.array([max(n.duration_s, 1e-3) for n in notes], dtype=np.float64)
    vector = np.sum(weight * np.exp(2j * np.pi * pitch))
    if abs(vector) < 1e-9:
        return 0.0
    return float(np.angle(vector) / (2.0 * np.pi) * 100.0)


def corrected_pitches(notes: Sequence[SungNote], tuning_cents: float) -> np.ndarray:
    """Integer MIDI pitches after removing the global tuning offset."""
    pitch = np.array([n.pitch for n in notes], dtype=np.float64)
    return np.rint(pitch - tuning_cents / 100.0).astype(np.int64)
