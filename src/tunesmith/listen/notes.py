"""From a pitch track to notes: where notes start and end, and what pitch each one has.

A note boundary is one of
- a voicing gap (the singer breathed, or an unvoiced consonant such as "t", "s", "p");
- an energy dip inside a voiced stretch, in the whole signal or above 3 kHz (voiced consonants
  such as "l", "m", "n" darken the sound without stopping the voice: "la la", "mm-mm");
- a soft articulation: a small dip of loudness and of brightness at once, followed by a burst of
  spectral change (a consonant and the re-attack after it, "da-da" sung legato);
- a change of pitch level, found by optimal piecewise-constant segmentation of the pitch with a
  cost per note and a minimum note length, so that vibrato and slow drift stay in one note.

Pieces that are very short, or short and clearly quieter than the recording's voiced frames (a
talker behind the singer, a scrap of a soft note), are not notes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from tunesmith.listen.pitch import PitchTrack
from tunesmith.score import SungNote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentParams:
    """Thresholds of the note segmenter, tuned on ssvd-dev (see bench/transcription.py)."""

    max_hole_s: float = 0.03  # unvoiced holes up to this long inside a note are bridged
    dip_db: float = 9.0  # a loudness dip this deep (vs the lower neighbouring peak) splits a note
    bright_dip_db: float = 12.0  # same for the energy above 3 kHz; 0 = off
    dip_window_s: float = 0.3  # dip depth is measured against peaks within this window
    soft_dip_db: float = 2.5  # a loudness dip this deep splits a note when a brightness dip ...
    soft_bright_db: float = 3.0  # ... this deep coincides with it (within soft_near_s) ...
    soft_near_s: float = 0.03
    flux_ratio: float = 3.0  # ... and the onset strength right after it peaks this many times
    # above its median over the recording's voiced frames; 0 = off
    flux_window_s: tuple[float, float] = (-0.02, 0.06)  # where that peak is looked for
    smooth_frames: int = 3  # moving average on the loudness curves
    pitch_smooth_s: float = 0.05  # median filter on the pitch before segmenting it
    split_cost: float = 35.0  # cost of one more note, in semitone^2 x frames
    deviation_cap: float = 4.0  # semitone^2 per frame: outlier frames cost at most this
    min_step_s: float = 0.2  # shortest note made by a pitch change alone (longer than vibrato)
    merge_below_semitones: float = 0.8  # touching pitch pieces closer than this are one note
    min_note_s: float = 0.08  # shorter pieces are dropped ...
    fragment_s: float = 0.15  # ... and so are pieces shorter than this whose median loudness is
    fragment_below_db: float = 4.0  # this far below the recording's median over voiced frames
    # (a talker behind the singer, a scrap of a soft note); 0 = off
    extend_max_s: float = 0.1  # a note grows back over weakly voiced frames at its pitch
    extend_min_voicing: float = 0.1
    extend_semitones: float = 0.7
    onset_shift_s: float = 0.02  # added to every onset (the analysis window sees notes early)
    dip_onset_shift_s: float = 0.02  # extra, after a dip (the note starts on the way back up)
    attack_flux_ratio: float = 3.0  # a note that starts from silence starts at the peak of the
    # onset strength (relative, as flux_ratio) up to attack_lookback_s before its first voiced
    # frame when that peak is this high (never later than without it); 0 = off
    attack_lookback_s: float = 0.02
    reverb_onset_shift_s: float = 0.01  # onset_shift_s in a reverberant take (see
    # `for_reverberant_take`): the previous note's tail masks each attack for a little longer


DEFAULT_SEGMENT_PARAMS = SegmentParams()


def for_reverberant_take(params: SegmentParams) -> SegmentParams:
    """The parameters for a take recorded in a live room (`dereverb.estimate_room` found one).
    Even with its late reverberation subtracted, the residual tail of the note before masks the
    first periods of the next attack, and the subtraction (which lags by `dereverb.LATE_S`)
    still takes a little of it away, so pitch and onset strength rise about 10 ms later than in
    a dry take (ssvd-dev in a room of RT60 0.6 s, on the 10 ms label grid: 0.01 s is best of
    0, 0.01 and 0.02 s on both halves of the set)."""
    return replace(params, onset_shift_s=params.reverb_onset_shift_s)


def segment_notes(track: PitchTrack, params: SegmentParams = DEFAULT_SEGMENT_PARAMS, *,
                  onset_reference: float | None = None,
                  loudness_reference_db: float | None = None) -> list[SungNote]:
    """Notes (onset/offset in seconds, median pitch as fractional MIDI) from a pitch track.

    `onset_reference`, `loudness_reference_db`: the recording's median onset strength and
    loudness over voiced frames, when `track` is only a window of it (streaming); by default
    they are measured on `track`."""
    hop = track.hop_s
    voiced = _bridge_holes(track.voiced, int(round(params.max_hole_s / hop)))
    midi = _interpolate_gaps(track.midi, voiced)
    loud = _smooth(track.loudness_db, params.smooth_frames)
    bright = _smooth(track.brightness_db, params.smooth_frames)
    min_len = max(1, int(round(params.min_note_s / hop)))
    flux = _relative_onset_strength(track, voiced, onset_reference)
    fragment = _fragment_test(track, voiced, params, loudness_reference_db)

    if params.extend_max_s > 0:
        voiced = _extend_runs(voiced, midi, track, params)
    notes: list[SungNote] = []
    for start, stop in _runs(voiced):
        pieces: list[tuple[int, int, float]] = []
        for i, (a, b) in enumerate(_split_at_dips(loud, bright, flux, start, stop, params, hop_s=hop)):
            steps = _split_at_pitch_changes(midi, a, b, params, hop_s=hop)
            steps = _merge_close(steps, midi, params.merge_below_semitones)
            for j, (c, d) in enumerate(steps):
                shift = params.dip_onset_shift_s if i > 0 and j == 0 else 0.0
                pieces.append((c, d, shift))
        for k, (a, b, shift) in enumerate(pieces):
            seg = track.midi[a:b]
            seg = seg[~np.isnan(seg)]
            if b - a < min_len or seg.size == 0 or fragment(a, b):
                continue
            onset = float(track.times_s[a]) + params.onset_shift_s + shift
            if k == 0:
                onset = _attack_time(flux, a, onset, track, params)
            onset = max(0.0, onset)
            offset = max(float(track.times_s[b - 1]) + hop, onset + hop)
            conf = float(np.clip(np.mean(track.voicing[a:b]), 0.0, 1.0))
            notes.append(SungNote(onset, offset, float(np.median(seg)), conf))
    log.debug("segmented %d notes", len(notes))
    return notes


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a boolean array."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _extend_runs(voiced: np.ndarray, midi: np.ndarray, track: PitchTrack,
                 params: SegmentParams) -> np.ndarray:
    """Grow each voiced run backwards over frames whose best pitch candidate agrees with the
    run's first pitch: the voicing decision is conservative at soft attacks and in noise, the
    pitch evidence is not."""
    out = voiced.copy()
    most = int(round(params.extend_max_s / track.hop_s))
    ok = (track.voicing >= params.extend_min_voicing) & ~np.isnan(track.best_midi)
    for a, b in _runs(voiced):
        ref = np.nanmedian(midi[a:min(b, a + 5)])
        k = a
        while k > 1 and a - k < most and not out[k - 2] and ok[k - 1] \
                and abs(track.best_midi[k - 1] - ref) < params.extend_semitones:
            k -= 1
        out[k:a] = True
        midi[k:a] = track.best_midi[k:a]
    return out


def _bridge_holes(voiced: np.ndarray, max_hole: int) -> np.ndarray:
    out = voiced.copy()
    if max_hole <= 0:
        return out
    for a, b in _runs(~voiced):
        if a > 0 and b < len(voiced) and b - a <= max_hole:
            out[a:b] = True
    return out


def _interpolate_gaps(midi: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    out = midi.copy()
    known = ~np.isnan(midi)
    fill = voiced & ~known
    if fill.any() and known.any():
        idx = np.arange(len(midi))
        out[fill] = np.interp(idx[fill], idx[known], midi[known])
    return out


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or x.size == 0:
        return x
    return np.convolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), np.ones(n) / n, "valid")


def _fragment_test(track: PitchTrack, voiced: np.ndarray, params: SegmentParams,
                   reference_db: float | None) -> Callable[[int, int], bool]:
    """Whether frames [a, b) are too short and too quiet to be a note (see SegmentParams)."""
    if reference_db is None and voiced.any():
        reference_db = float(np.median(track.loudness_db[voiced]))
    if params.fragment_below_db <= 0 or reference_db is None:
        return lambda a, b: False
    most = int(round(params.fragment_s / track.hop_s))
    floor = reference_db - params.fragment_below_db

    def test(a: int, b: int) -> bool:
        return b - a < most and float(np.median(track.loudness_db[a:b])) < floor
    return test


def _attack_time(flux: np.ndarray, start: int, onset_s: float, track: PitchTrack,
                 params: SegmentParams) -> float:
    """Onset of a note that starts from silence: the strongest rise of the spectrum at or just
    before its first voiced frame (the voicing decision needs a few periods of the attack), or
    `onset_s` when there is no clear peak. Never later than `onset_s`."""
    if params.attack_flux_ratio <= 0 or not flux.size:
        return onset_s
    lo = max(0, start - int(round(params.attack_lookback_s / track.hop_s)))
    peak = lo + int(np.argmax(flux[lo:start + 1]))
    if flux[peak] < params.attack_flux_ratio:
        return onset_s
    return float(track.times_s[peak]) + params.onset_shift_s


def _relative_onset_strength(track: PitchTrack, voiced: np.ndarray,
                             reference: float | None = None) -> np.ndarray:
    """The track's onset strength over its median in voiced frames (a per-recording scale:
    levels, noise floors and voices differ), or over `reference`; empty when the track has
    none."""
    flux = track.onset_strength
    if flux.size != voiced.size or not voiced.any():
        return np.zeros(0)
    scale = float(np.median(flux[voiced])) if reference is None else reference
    return flux / max(scale, 1e-9)


def _split_at_dips(loud: np.ndarray, bright: np.ndarray, flux: np.ndarray, start: int, stop: int,
                   params: SegmentParams, *, hop_s: float) -> list[tuple[int, int]]:
    """Cut [start, stop) at the bottoms of loudness (or brightness) dips, and of the shallow
    loudness dips where the brightness dips too and the spectrum changes right after."""
    from scipy.signal import find_peaks

    if stop - start < 5:
        return [(start, stop)]
    wlen = int(round(params.dip_window_s / hop_s)) or None
    valleys = set(find_peaks(-loud[start:stop], prominence=params.dip_db, wlen=wlen)[0].tolist())
    if params.bright_dip_db > 0:
        found = find_peaks(-bright[start:stop], prominence=params.bright_dip_db, wlen=wlen)[0]
        valleys.update(v for v in found.tolist() if all(abs(v - u) > 3 for u in valleys))
    if params.flux_ratio > 0 and flux.size:
        soft = _soft_articulations(loud[start:stop], bright[start:stop], flux[start:stop],
                                   params, hop_s=hop_s, wlen=wlen)
        valleys.update(v for v in soft if all(abs(v - u) > 3 for u in valleys))
    cuts = [start, *(start + v for v in sorted(valleys)), stop]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _soft_articulations(loud: np.ndarray, bright: np.ndarray, flux: np.ndarray,
                        params: SegmentParams, *, hop_s: float, wlen: int | None) -> list[int]:
    """Shallow loudness valleys that coincide with a brightness valley and are followed by a
    peak of onset strength: the three cues of a consonant between two notes."""
    from scipy.signal import find_peaks

    valleys = find_peaks(-loud, prominence=params.soft_dip_db, wlen=wlen)[0]
    dark = find_peaks(-bright, prominence=params.soft_bright_db, wlen=wlen)[0]
    if valleys.size == 0 or dark.size == 0:
        return []
    near = int(round(params.soft_near_s / hop_s))
    dist = np.min(np.abs(valleys[:, None] - dark[None, :]), axis=1)
    lo, hi = (int(round(w / hop_s)) for w in params.flux_window_s)
    lo, hi = min(lo, 0), max(hi, 0)
    padded = np.pad(flux, (-lo, hi))  # padded[v: v + hi - lo + 1] is flux[v + lo: v + hi + 1]
    peak = np.lib.stride_tricks.sliding_window_view(padded, hi - lo + 1)[valleys].max(axis=1)
    keep = (dist <= near) & (peak >= params.flux_ratio)
    return valleys[keep].tolist()


def _split_at_pitch_changes(midi: np.ndarray, start: int, stop: int, params: SegmentParams,
                            *, hop_s: float) -> list[tuple[int, int]]:
    """Optimal piecewise-constant segmentation of midi[start:stop]: least squares + a cost per
    segment, every segment at least `min_step_s` long (dynamic programming, O(n^2))."""
    from scipy.ndimage import median_filter

    n = stop - start
    min_len = max(2, int(round(params.min_step_s / hop_s)))
    if n < 2 * min_len:
        return [(start, stop)]
    size = max(1, int(round(params.pitch_smooth_s / hop_s)) | 1)
    p = median_filter(midi[start:stop], size=size, mode="nearest")
    c1 = np.concatenate([[0.0], np.cumsum(p)])
    c2 = np.concatenate([[0.0], np.cumsum(p * p)])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    prev = np.zeros(n + 1, dtype=np.int64)
    # the segment ends j of a block of min_len consecutive ones only look back to i <= j -
    # min_len, before the block: the block is solved at once (the same sums, element by element)
    for j0 in range(min_len, n + 1, min_len):
        j = np.arange(j0, min(j0 + min_len, n + 1))[:, None]
        i = np.arange(0, int(j[-1, 0]) - min_len + 1)[None, :]
        length = j - i
        sse = (c2[j] - c2[i]) - (c1[j] - c1[i]) ** 2 / length
        cost = best[i] + np.minimum(sse, params.deviation_cap * length) + params.split_cost
        cost[length < min_len] = np.inf
        k = np.argmin(cost, axis=1)
        best[j[:, 0]], prev[j[:, 0]] = cost[np.arange(len(k)), k], i[0, k]
    cuts = [n]
    while cuts[-1] > 0:
        cuts.append(int(prev[cuts[-1]]))
    cuts.reverse()
    return [(start + a, start + b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _merge_close(pieces: list[tuple[int, int]], midi: np.ndarray,
                 threshold: float) -> list[tuple[int, int]]:
    """Join touching pieces whose median pitches differ by less than `threshold` semitones."""
    if len(pieces) < 2:
        return pieces
    out = [pieces[0]]
    for a, b in pieces[1:]:
        pa, pb = out[-1]
        if pb == a and abs(np.nanmedian(midi[pa:pb]) - np.nanmedian(midi[a:b])) < threshold:
            out[-1] = (pa, b)
        else:
            out.append((a, b))
    return out
