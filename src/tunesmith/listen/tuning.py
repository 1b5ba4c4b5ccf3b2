"""The singer's tuning: how far, in cents, the voice sits from the equal-tempered grid, for the
whole take (`estimate_tuning_cents`) or note by note as it drifts (`follow_tuning_cents`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.score import SungNote

TUNING_WINDOW_S = 5.0  # the drifting tuning is a Gaussian-weighted mean over about this long


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


def follow_tuning_cents(notes: Sequence[SungNote], *,
                        window_s: float = TUNING_WINDOW_S) -> np.ndarray:
    """The tuning at each note (cents, one per note, in the notes' order) for a singer whose
    tuning drifts: the circular mean of the notes around it (Gaussian weights, sigma
    `window_s`, times duration), unwrapped along the take so that a singer who sinks 80 cents
    over a verse is followed past -50 rather than taken for a sharp singer a semitone lower.
    The curve starts from the opening notes' tuning, within -50..+50."""
    if not notes:
        return np.zeros(0)
    pitch = np.array([n.pitch for n in notes], dtype=np.float64)
    weight = np.array([max(n.duration_s, 1e-3) for n in notes], dtype=np.float64)
    mid = np.array([0.5 * (n.onset_s + n.offset_s) for n in notes], dtype=np.float64)
    near = np.exp(-0.5 * ((mid[:, None] - mid[None, :]) / max(window_s, 1e-3)) ** 2)
    vector = (near * weight[None, :]) @ np.exp(2j * np.pi * pitch)
    order = np.argsort(mid, kind="stable")
    cycles = np.empty(len(notes))
    cycles[order] = np.unwrap(np.angle(vector[order])) / (2.0 * np.pi)
    return cycles * 100.0


def corrected_pitches(notes: Sequence[SungNote], tuning_cents: float | np.ndarray) -> np.ndarray:
    """Integer MIDI pitches after removing the tuning offset (one value, or one per note)."""
    pitch = np.array([n.pitch for n in notes], dtype=np.float64)
    return np.rint(pitch - np.asarray(tuning_cents, dtype=np.float64) / 100.0).astype(np.int64)
