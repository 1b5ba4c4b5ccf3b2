"""Per-beat melody features for the harmoniser, shared by training and run time.

Everything is key-relative: pitch classes are rotated so that the tonic of the (relative) major
key is 0 (C major and A minor look alike; a flag tells the modes apart). For each beat the
features describe the melody over the beat and its neighbours, where the beat sits in the bar,
and where the melody's phrases breathe:

- pitch-class time over the beat, the beat before and after, two beats further either side,
  the half bar and the bar around it, the bars before and after (9 x 12);
- pitch classes struck in the beat, weighted by metric strength of the onset and note length
  (12), the pitch class sounding on the beat (12) and the lowest melody note of the beat (12);
- metre: downbeat, other strong beat, weak beat, the beats either side of a bar line, position
  in the bar as a fraction (6), the same for any bar length;
- phrasing: rest in this and the next beat, time since the last onset and to the next one, a
  long held note, before/after the melody, the first and the last bar of the passage (9);
- the minor-mode flag (1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.score import Note

STEPS_PER_BEAT = 12
LEGATO_GAP_BEATS = 0.5
N_FEATURES = 12 * 12 + 6 + 9 + 1


@dataclass(frozen=True, eq=False)
class BeatGrid:
    """Beats of a passage: which are downbeats and which are strong (downbeats included)."""

    downbeat: np.ndarray  # bool, one per beat
    strong: np.ndarray  # bool, one per beat

    @property
    def n_beats(self) -> int:
        return len(self.downbeat)

    @property
    def bar_length(self) -> int:
        down = np.flatnonzero(self.downbeat)
        if len(down) < 2:
            return int(len(self.downbeat)) if len(down) else 4
        return int(np.median(np.diff(down)))

    @property
    def beat_in_bar(self) -> np.ndarray:
        out = np.zeros(self.n_beats, dtype=int)
        down = np.flatnonzero(self.downbeat)
        bar = self.bar_length
        first = int(down[0]) if len(down) else 0
        last = -1
        for b in range(self.n_beats):
            if self.downbeat[b]:
                last = b
            out[b] = (b - last) if last >= 0 else (b - first) % max(bar, 1)
        return out

    @property
    def bar_index(self) -> np.ndarray:
        """Bar number of each beat, 0 = the bar of the first downbeat (pickups negative)."""
        counts = np.cumsum(self.downbeat.astype(int)) - 1
        return counts

    @classmethod
    def regular(cls, n_bars: int, beats_per_bar: int) -> BeatGrid:
        n = n_bars * beats_per_bar
        pos = np.arange(n) % beats_per_bar
        strong_pos = {4: (0, 2), 6: (0, 3), 2: (0,), 3: (0,)}.get(beats_per_bar, (0,))
        return cls(pos == 0, np.isin(pos, strong_pos))

    @classmethod
    def from_flags(cls, downbeat: np.ndarray, strong: np.ndarray) -> BeatGrid:
        d = np.asarray(downbeat, dtype=bool)
        return cls(d, np.asarray(strong, dtype=bool) | d)


def legato(melody: Sequence[Note]) -> list[Note]:
    """Notes held up to the next onset when the gap is shorter than LEGATO_GAP_BEATS: sung,
    played and quantised melodies then look alike (a staccato 16th still fills its step)."""
    notes = sorted(melody, key=lambda x: x.start_beat)
    out = []
    for i, n in enumerate(notes):
        end = n.end_beat
        if i + 1 < len(notes):
            nxt = notes[i + 1].start_beat
            if 0 <= nxt - end < LEGATO_GAP_BEATS:
                end = nxt
        out.append(Note(n.start_beat, max(end - n.start_beat, 1e-3), n.pitch, n.velocity))
    return out


def _raster(melody: Sequence[Note], n_beats: int) -> tuple[np.ndarray, np.ndarray]:
    """Pitch sounding per step (-1 = rest) and onset marks, STEPS_PER_BEAT steps per beat.
    Where notes overlap, the later note wins (a melody is one voice)."""
    n = n_beats * STEPS_PER_BEAT
    pitch = np.full(n, -1, dtype=int)
    onset = np.zeros(n, dtype=bool)
    for note in melody:
        a = int(round(note.start_beat * STEPS_PER_BEAT))
        b = int(round(note.end_beat * STEPS_PER_BEAT))
        b = max(b, a + 1)
        lo, hi = max(a, 0), min(b, n)
        if lo < hi:
            pitch[lo:hi] = note.pitch
        if 0 <= a < n:
            onset[a] = True
    return pitch, onset


def _window_mean(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of rows x[lo[i]:hi[i]] for each i (empty windows give 0)."""
    c = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    lo = np.clip(lo, 0, len(x))
    hi = np.clip(hi, 0, len(x))
    cnt = np.maximum(hi - lo, 1)[:, None]
    return (c[hi] - c[lo]) / cnt


def beat_features(melody: Sequence[Note], grid: BeatGrid, *, frame_tonic: int | np.ndarray,
                  minor: bool | np.ndarray) -> np.ndarray:
    """Feature matrix (n_beats, N_FEATURES), float32. `melody` is in beats from the grid's beat
    0; `frame_tonic` is the pitch class rotated to 0 (the tonic of the relative major), one for
    the passage or one per beat (a song that modulates); `minor` likewise."""
    nb = grid.n_beats
    r = STEPS_PER_BEAT
    tonic = np.broadcast_to(np.asarray(frame_tonic, dtype=int), (nb,))
    tonic_steps = np.repeat(tonic, r)
    melody = legato(melody)
    pitch, onset = _raster(melody, nb)
    sounding = pitch >= 0
    pc = np.where(sounding, (pitch - tonic_steps) % 12, 0)
    steps_pc = np.zeros((nb * r, 12), dtype=np.float32)
    steps_pc[np.flatnonzero(sounding), pc[sounding]] = 1.0
    dur = steps_pc.reshape(nb, r, 12).mean(axis=1)  # share of the beat per pitch class

    # Onset-weighted pitch classes.
    acc = np.zeros((nb, 12), dtype=np.float32)
    step_in_beat = np.arange(nb * r) % r
    strength = np.where(step_in_beat == 0, 1.0, np.where(step_in_beat == r // 2, 0.6, 0.35))
    for note in melody:
        a = int(round(note.start_beat * r))
        if 0 <= a < nb * r:
            w = strength[a] * min(max(note.duration_beats, 0.25), 2.0) / 2.0
            acc[a // r, (note.pitch - tonic[a // r]) % 12] += w
    head = steps_pc.reshape(nb, r, 12)[:, 0, :]
    low = np.zeros((nb, 12), dtype=np.float32)
    pb = pitch.reshape(nb, r)
    masked = np.where(pb >= 0, pb, 1000)
    lowest = masked.min(axis=1)
    has = lowest < 1000
    low[np.flatnonzero(has), (lowest[has] - tonic[has]) % 12] = 1.0

    idx = np.arange(nb)
    prev1 = _window_mean(dur, idx - 1, idx)
    next1 = _window_mean(dur, idx + 1, idx + 2)
    prev2 = _window_mean(dur, idx - 3, idx - 1)
    next2 = _window_mean(dur, idx + 2, idx + 4)
    strong_idx = np.flatnonzero(grid.strong)
    seg_lo = np.array([strong_idx[strong_idx <= b].max() if np.any(strong_idx <= b) else 0 for b in idx])
    seg_hi = np.array([strong_idx[strong_idx > b].min() if np.any(strong_idx > b) else nb for b in idx])
    half = _window_mean(dur, seg_lo, seg_hi)
    down_idx = np.flatnonzero(grid.downbeat)
    bar_lo = np.array([down_idx[down_idx <= b].max() if np.any(down_idx <= b) else 0 for b in idx])
    bar_hi = np.array([down_idx[down_idx > b].min() if np.any(down_idx > b) else nb for b in idx])
    bar = _window_mean(dur, bar_lo, bar_hi)
    bar_len = np.maximum(bar_hi - bar_lo, 1)
    prev_bar = _window_mean(dur, bar_lo - bar_len, bar_lo)
    next_bar = _window_mean(dur, bar_hi, bar_hi + bar_len)

    # Metre, described so that any bar length reads alike (POP909 is nearly all 4/4; a waltz
    # should still find its downbeats): no one-hot of the bar length or of the beat number.
    down = grid.downbeat.astype(np.float32)
    metre = np.zeros((nb, 6), dtype=np.float32)
    metre[:, 0] = down
    metre[:, 1] = grid.strong & ~grid.downbeat
    metre[:, 2] = np.append(down[1:], 1.0)  # the last beat before a bar line
    metre[:, 3] = np.insert(down[:-1], 0, 0.0)  # the beat after a downbeat
    metre[:, 4] = grid.beat_in_bar / max(grid.bar_length, 1)
    metre[:, 5] = ~(grid.downbeat | grid.strong)

    # Phrasing.
    rest = 1.0 - sounding.reshape(nb, r).mean(axis=1)
    onset_steps = np.flatnonzero(onset)
    since = np.full(nb, 4.0)
    until = np.full(nb, 4.0)
    if len(onset_steps):
        beat_steps = idx * r
        k = np.searchsorted(onset_steps, beat_steps, side="right") - 1
        ok = k >= 0
        since[ok] = np.minimum((beat_steps[ok] - onset_steps[k[ok]]) / r, 4.0)
        k2 = np.searchsorted(onset_steps, beat_steps + 1, side="left")
        ok2 = k2 < len(onset_steps)
        until[ok2] = np.minimum((onset_steps[k2[ok2]] - beat_steps[ok2]) / r, 4.0)
    starts = [n.start_beat for n in melody]
    ends = [n.end_beat for n in melody]
    mel_lo = min(starts) if starts else nb
    mel_hi = max(ends) if ends else -1
    phrase = np.zeros((nb, 9), dtype=np.float32)
    phrase[:, 0] = rest
    phrase[:, 1] = np.append(rest[1:], 1.0)
    phrase[:, 2] = since / 4.0
    phrase[:, 3] = until / 4.0
    phrase[:, 4] = (since >= 2.0) & ~(rest > 0.99)
    phrase[:, 5] = idx + 1 <= mel_lo
    phrase[:, 6] = idx >= mel_hi
    phrase[:, 7] = grid.bar_index <= 0
    last_down = down_idx.max() if len(down_idx) else 0
    phrase[:, 8] = idx >= last_down
    mode = np.broadcast_to(np.asarray(minor, dtype=np.float32), (nb,))[:, None]
    feats = np.hstack([dur, prev1, next1, prev2, next2, half, bar, prev_bar, next_bar, acc, head,
                       low, metre, phrase, mode])
    return feats.astype(np.float32)
