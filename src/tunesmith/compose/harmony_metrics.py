"""Chord accuracy and melody/chord fit metrics, per song.

Accuracy compares two per-beat chord sequences: "triad" (root + maj/min/dim/aug/sus2/sus4,
sevenths reduced to their triad) and "seventh" (root + full quality, bass ignored), over the
beats where the reference has a chord.

The fit metrics follow Yeh et al., "Automatic melody harmonization with triad chords: a
comparative study", J. New Music Research 50(1), 2021, section 5 (also arXiv:2001.02360):

- CTnCTR, chord tone to non-chord tone ratio: (n_c + n_p) / (n_c + n_n), n_c the melody
  chord tones, n_n the non-chord tones, n_p the "proper" non-chord tones (those followed by a
  note at most two semitones away that is a chord tone). Higher fits better.
- PCS, pitch consonance score: each melody note against each note of its chord: unison,
  minor/major third, perfect fifth, minor/major sixth +1, perfect fourth 0, anything else -1;
  averaged. Higher fits better.
- MCTD, melody-chord tonal distance: Euclidean distance between the 6-D tonal centroids
  (Harte, Sandler & Gasser 2006) of each melody note and of its chord, weighted by duration.
  Lower fits better.
- CHE, chord histogram entropy: entropy (natural log) of the histogram of chord labels.
- CC, chord coverage: the number of distinct chord labels.
- CTD, chord tonal distance: mean tonal-centroid distance between consecutive chords.

As in the authors' reference implementation, counts are taken on a fine time grid (here 12
steps per beat, so a note counts by its length); the chord sequence for CHE/CC/CTD is sampled
once per beat (their chord slots were half bars). Two details follow the paper's text where the
reference code differs: PCS takes the interval from the chord note up to the melody note
(melody above the harmony, so D over G is a fifth, not a fourth), and MCTD is a Euclidean
distance (the reference takes the absolute value of the summed difference).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.compose.harmony_features import STEPS_PER_BEAT, legato
from tunesmith.errors import TunesmithError
from tunesmith.score import Note
from tunesmith.theory import ChordSymbol

CONSONANT = frozenset({0, 3, 4, 7, 8, 9})
NEUTRAL = frozenset({5})
FIT_METRICS = ("CTnCTR", "PCS", "MCTD", "CHE", "CC", "CTD")


class MetricError(TunesmithError):
    """Sequences to compare do not line up."""


def tonal_centroid(pcs: Sequence[int]) -> np.ndarray:
    """6-D tonal centroid (Harte et al. 2006): circles of fifths, minor and major thirds."""
    if not pcs:
        return np.zeros(6)
    ang = np.asarray(pcs, dtype=float)
    phi = np.stack([
        np.sin(ang * 7 * np.pi / 6), np.cos(ang * 7 * np.pi / 6),
        np.sin(ang * 3 * np.pi / 2), np.cos(ang * 3 * np.pi / 2),
        0.5 * np.sin(ang * 2 * np.pi / 3), 0.5 * np.cos(ang * 2 * np.pi / 3),
    ], axis=1)
    return phi.mean(axis=0)


def validate(reference: Sequence[ChordSymbol | None], estimate: Sequence[ChordSymbol | None]) -> None:
    if len(reference) != len(estimate):
        raise MetricError(f"{len(reference)} reference beats but {len(estimate)} estimated beats")


def accuracy(reference: Sequence[ChordSymbol | None], estimate: Sequence[ChordSymbol | None],
             mask: Sequence[bool] | None = None) -> dict[str, float]:
    """Per-beat accuracy at triad and seventh level (and hits/beats for pooling songs)."""
    validate(reference, estimate)
    tri = sev = n = 0
    for i, (r, e) in enumerate(zip(reference, estimate, strict=True)):
        if r is None or (mask is not None and not mask[i]):
            continue
        n += 1
        if e is None:
            continue
        tri += (r.root, r.triad_quality) == (e.root, e.triad_quality)
        sev += (r.root, r.quality) == (e.root, e.quality)
    return {"triad": tri / max(n, 1), "seventh": sev / max(n, 1), "triad_hits": tri,
            "seventh_hits": sev, "beats": n}


def _frames(melody: Sequence[Note], chords: Sequence[ChordSymbol | None], mask: Sequence[bool] | None
            ) -> tuple[np.ndarray, list[ChordSymbol | None]]:
    """Melody pitch per frame (-1 rest) and the chord of each frame's beat, over the beats kept."""
    n_beats = len(chords)
    r = STEPS_PER_BEAT
    pitch = np.full(n_beats * r, -1, dtype=int)
    for note in legato(melody):
        a = max(int(round(note.start_beat * r)), 0)
        b = min(max(int(round(note.end_beat * r)), a + 1), n_beats * r)
        if a < b:
            pitch[a:b] = note.pitch
    frame_chords = [chords[i // r] for i in range(n_beats * r)]
    if mask is not None:
        keep = np.repeat(np.asarray(mask, dtype=bool), r)
        pitch = np.where(keep, pitch, -1)
    return pitch, frame_chords


def _next_different(pitch: np.ndarray) -> np.ndarray:
    """For each frame, the index of the next note's first frame (-1 if none): the note that
    follows the one sounding now, after any rest."""
    n = len(pitch)
    starts = np.flatnonzero((pitch >= 0) & (np.append(-2, pitch[:-1]) != pitch))
    if len(starts) == 0:
        return np.full(n, -1)
    k = np.searchsorted(starts, np.arange(n), side="right")
    return np.where(k < len(starts), starts[np.minimum(k, len(starts) - 1)], -1)


def ctnctr_counts(melody: Sequence[Note], n_beats: int, *, frame_tonic: int | np.ndarray,
                  tones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CTnCTR per beat for every chord of a vocabulary, as two counts: for each beat and chord
    the melody steps that count in the numerator (chord tones and proper non-chord tones, with
    that chord on that beat) and the steps in the denominator (sounding steps), in beats.
    `tones` (n_chords, 12) marks each chord's pitch classes relative to `frame_tonic` (one for
    the passage or one per beat). A sequence's CTnCTR is numerator[b, chord_b].sum() /
    denominator.sum(), the same figure as `fit_metrics` for the same beats."""
    r = STEPS_PER_BEAT
    pitch, _ = _frames(melody, [None] * n_beats, None)
    tonic = np.repeat(np.broadcast_to(np.asarray(frame_tonic, dtype=int), (n_beats,)), r)
    nxt = _next_different(pitch)
    sounding = pitch >= 0
    pc = np.where(sounding, (pitch - tonic) % 12, 0)
    near = sounding & (nxt >= 0)
    near[near] = np.abs(pitch[nxt[near]] - pitch[near]) <= 2
    next_pc = np.where(near, (pitch[np.maximum(nxt, 0)] - tonic) % 12, 0)
    t = np.asarray(tones, dtype=float).T  # (12, n_chords)
    tone_now = t[pc]  # (frames, n_chords)
    proper = (1.0 - tone_now) * t[next_pc] * near[:, None]
    numerator = ((tone_now + proper) * sounding[:, None]).reshape(n_beats, r, -1).sum(axis=1) / r
    return numerator, sounding.reshape(n_beats, r).sum(axis=1) / r


def fit_metrics(melody: Sequence[Note], chords: Sequence[ChordSymbol | None],
                mask: Sequence[bool] | None = None) -> dict[str, float]:
    """The six Yeh et al. metrics for one song. `chords` has one entry per beat (beat 0 = the
    melody's beat 0); `mask` keeps only some beats (e.g. where the melody is)."""
    pitch, frame_chords = _frames(melody, chords, mask)
    n_c = n_n = n_p = 0
    pcs_sum = pcs_cnt = 0
    mctd_sum = mctd_cnt = 0.0
    centroid_cache: dict[tuple[int, ...], np.ndarray] = {}

    def centroid(pcs: tuple[int, ...]) -> np.ndarray:
        if pcs not in centroid_cache:
            centroid_cache[pcs] = tonal_centroid(pcs)
        return centroid_cache[pcs]

    # Index of the next frame holding a different note, for the proper non-chord tones.
    n = len(pitch)
    next_diff = np.full(n, -1)
    nxt = -1
    for i in range(n - 1, -1, -1):
        next_diff[i] = nxt
        if pitch[i] >= 0 and (i == 0 or pitch[i - 1] != pitch[i]):
            nxt = i
    for i in range(n):
        p = pitch[i]
        c = frame_chords[i]
        if p < 0 or c is None:
            continue
        tones = c.pitch_classes
        pc = p % 12
        if pc in tones:
            n_c += 1
        else:
            n_n += 1
            j = next_diff[i]
            if j >= 0 and abs(pitch[j] - p) <= 2 and pitch[j] % 12 in tones:
                n_p += 1
        for t in tones:
            iv = (pc - t) % 12
            pcs_sum += 1 if iv in CONSONANT else (0 if iv in NEUTRAL else -1)
            pcs_cnt += 1
        mctd_sum += float(np.linalg.norm(centroid((pc,)) - centroid(tuple(sorted(set(tones))))))
        mctd_cnt += 1
    kept = [c for i, c in enumerate(chords) if c is not None and (mask is None or mask[i])]
    labels = [c.symbol() for c in kept]
    if labels:
        _, counts = np.unique(labels, return_counts=True)
        p = counts / counts.sum()
        che = float(-(p * np.log(p)).sum())
    else:
        che = 0.0
    cents = [centroid(tuple(sorted(set(c.pitch_classes)))) for c in kept]
    ctd = float(np.mean([np.linalg.norm(a - b) for a, b in zip(cents[:-1], cents[1:], strict=True)])) \
        if len(cents) > 1 else 0.0
    return {
        "CTnCTR": (n_c + n_p) / max(n_c + n_n, 1),
        "PCS": pcs_sum / max(pcs_cnt, 1),
        "MCTD": mctd_sum / max(mctd_cnt, 1.0),
        "CHE": che,
        "CC": float(len(set(labels))),
        "CTD": ctd,
    }


def evaluate(melody: Sequence[Note], reference: Sequence[ChordSymbol | None],
             estimate: Sequence[ChordSymbol | None], mask: Sequence[bool] | None = None) -> dict[str, float]:
    """Accuracy against the reference and the fit metrics of the estimate, for one song."""
    validate(reference, estimate)
    out = {f"acc_{k}": v for k, v in accuracy(reference, estimate, mask).items()}
    out.update(fit_metrics(melody, estimate, mask))
    return out
