"""Notes of a full mix from the model's posteriors, and how loud each pitch sounds.

Note extraction follows basic-pitch's own decoding (peaks of the onset posterior start notes,
which run while the note posterior stays above a threshold, allowing short dips), with a
fractional pitch read from the third-of-a-semitone contour and a velocity from the audio.

Loudness comes from a harmonic-sum spectrum (`analyse_spectrum`): for every piano key and
frame, the weighted sum of the STFT magnitudes at its first harmonics. It is what the model's
posteriors do not say: which of the sounding notes is played loudest (the lead usually is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.listen.poly.engine import (
    CONTOUR_BINS_PER_SEMITONE,
    HOP_SAMPLES,
    LOWEST_MIDI,
    MODEL_SAMPLE_RATE,
    N_PITCHES,
    Activations,
)
from tunesmith.score import SungNote

SALIENCE_FFT = 4096
SALIENCE_HARMONICS = 6
TIMBRE_HARMONICS = 8
HARMONIC_DECAY = 0.8  # weight of harmonic h is HARMONIC_DECAY ** (h - 1)
SALIENCE_BLOCK_FRAMES = 1024
SALIENCE_FLOOR = 1e-6
VELOCITY_REF_PERCENTILE = 95.0  # the note loudness that maps to REF_VELOCITY
REF_VELOCITY = 110
VELOCITY_DB_PER_OCTAVE_OF_VELOCITY = 12.0  # 40 log10(2): level ~ velocity squared (GM)


@dataclass(frozen=True, slots=True)
class PolyNote:
    """A note heard in a mix: onset/offset in seconds, fractional MIDI pitch (the contour's
    estimate: a recording tuned 20 cents sharp gives e.g. 69.2), MIDI velocity 1-127 from its
    loudness, and the model's mean note posterior 0-1 as `confidence`."""

    onset_s: float
    offset_s: float
    pitch: float
    velocity: int = 90
    confidence: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    @property
    def midi(self) -> int:
        return int(round(self.pitch))

    def as_sung(self) -> SungNote:
        return SungNote(self.onset_s, self.offset_s, self.pitch, self.confidence)


@dataclass(frozen=True, slots=True)
class NoteParams:
    """Thresholds of the note decoder (basic-pitch's defaults, shorter minimum length)."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    min_note_frames: int = 6  # 70 ms: a sixteenth at 200 bpm still counts
    gap_frames: int = 11  # a note survives this many frames under the frame threshold
    infer_onsets: bool = True  # also start notes where the note posterior jumps up


DEFAULT_NOTE_PARAMS = NoteParams()


@dataclass(frozen=True, slots=True)
class FrameNote:
    """A decoded note on the frame grid: frames [start, end), key index 0-87."""

    start: int
    end: int
    key: int
    confidence: float


def decode_notes(act: Activations, params: NoteParams = DEFAULT_NOTE_PARAMS) -> list[FrameNote]:
    """Notes from the posteriors, latest onsets first (as basic-pitch does, so a re-struck key
    ends the note before it)."""
    frames = act.note.astype(np.float64)
    onsets = act.onset.astype(np.float64)
    n = frames.shape[0]
    if n < 3:
        return []
    if params.infer_onsets:
        onsets = np.maximum(onsets, _inferred_onsets(onsets, frames))
    peak = np.zeros_like(onsets, dtype=bool)
    peak[1:-1] = (onsets[1:-1] > onsets[:-2]) & (onsets[1:-1] >= onsets[2:])
    peak &= onsets >= params.onset_threshold
    t_idx, k_idx = np.nonzero(peak)
    order = np.argsort(-t_idx, kind="stable")
    remaining = frames.copy()
    above = remaining >= params.frame_threshold
    out: list[FrameNote] = []
    for t0, k in zip(t_idx[order], k_idx[order], strict=True):
        if t0 >= n - 1:
            continue
        end = _note_end(above[:, k], t0, params.gap_frames)
        if end - t0 <= params.min_note_frames:
            continue
        lo, hi = max(0, k - 1), min(N_PITCHES, k + 2)
        remaining[t0:end, lo:hi] = 0.0
        above[t0:end, lo:hi] = False
        out.append(FrameNote(int(t0), int(end), int(k), float(frames[t0:end, k].mean())))
    return out


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    """Rises of the note posterior over 1 and 2 frames, scaled to the onset posterior's range."""
    diffs = [frames - np.vstack([np.zeros((d, frames.shape[1])), frames[:-d]])
             for d in range(1, n_diff + 1)]
    rise = np.clip(np.min(diffs, axis=0), 0.0, None)
    rise[:n_diff] = 0.0
    top = rise.max()
    return rise * (onsets.max() / top) if top > 0 else rise


def _note_end(active: np.ndarray, start: int, gap: int) -> int:
    """Exclusive end of a note starting at `start`: where the first run of `gap` inactive frames
    begins, or, with none before the end, after its last active frame (basic-pitch's rule)."""
    n = active.size
    pos = start + 1
    chunk = 256
    while pos < n - 1:
        stop = min(n - 1, pos + chunk + gap)
        inactive = ~active[pos:stop]
        if inactive.size >= gap:
            full = np.convolve(inactive, np.ones(gap), mode="valid") >= gap
            hit = np.flatnonzero(full)
            if hit.size:
                return int(pos + hit[0])
        if stop >= n - 1:
            break
        pos = stop - gap + 1
    tail = active[start + 1:n - 1]
    on = np.flatnonzero(tail)
    trailing = tail.size - 1 - on[-1] if on.size else tail.size
    return int(n - 1 - trailing)


def refined_pitch(act: Activations, note: FrameNote) -> float:
    """Fractional MIDI pitch: the peak of the note's summed contour posterior (third-of-a-
    semitone bins) within half a semitone of its key, refined by a parabola through the peak
    bin and its neighbours."""
    per = CONTOUR_BINS_PER_SEMITONE
    centre = per * note.key + 1  # contour bin of the key's exact pitch
    lo = max(0, centre - per)
    w = act.contour[note.start:note.end, lo:centre + per + 1].sum(axis=0).astype(np.float64)
    if w.size < 3 or not np.any(w > 0):
        return float(LOWEST_MIDI + note.key)
    i = int(np.clip(np.argmax(w), 1, w.size - 2))
    left, mid, right = w[i - 1], w[i], w[i + 1]
    curve = left - 2.0 * mid + right
    delta = 0.5 * (left - right) / curve if curve < 0 else 0.0
    offset = (lo + i + float(np.clip(delta, -0.5, 0.5)) - centre) / per
    return LOWEST_MIDI + note.key + float(np.clip(offset, -0.5, 0.5))


@dataclass(frozen=True)
class Spectrum:
    """Harmonic analysis on the model's frame grid: `salience` (n_frames, 88) is the weighted
    sum of each key's first SALIENCE_HARMONICS harmonic magnitudes; `harmonics`
    (n_frames, n_keys, TIMBRE_HARMONICS) keeps the magnitudes one by one for the keys from
    `low_midi` up (the lead's range), the shape of a note's spectrum: its timbre."""

    salience: np.ndarray
    harmonics: np.ndarray
    low_midi: int


def analyse_spectrum(audio: np.ndarray, n_frames: int, *, low_midi: int = 45,
                     high_midi: int = 96, tuning_cents: float = 0.0) -> Spectrum:
    """Harmonic magnitudes from a 4096-point STFT (audio at MODEL_SAMPLE_RATE; frame k centred
    on sample k * HOP_SAMPLES). A partial between two bins reads the larger neighbour; the keys'
    frequencies follow the recording's tuning (a band 30 cents sharp puts high partials bins
    away from the equal-tempered ones)."""
    import scipy.fft

    x = np.asarray(audio, dtype=np.float32)
    half = SALIENCE_FFT // 2
    padded = np.concatenate([np.zeros(half, np.float32), x,
                             np.zeros(half + n_frames * HOP_SAMPLES, np.float32)])
    window = np.hanning(SALIENCE_FFT).astype(np.float32)
    n_h = max(SALIENCE_HARMONICS, TIMBRE_HARMONICS)
    f0 = 440.0 * 2.0 ** ((np.arange(N_PITCHES) + LOWEST_MIDI - 69 + tuning_cents / 100.0) / 12.0)
    freqs = np.outer(f0, np.arange(1, n_h + 1))
    bins = np.clip(np.rint(freqs * SALIENCE_FFT / MODEL_SAMPLE_RATE).astype(np.int64), 1, half - 1)
    weights = (HARMONIC_DECAY ** np.arange(SALIENCE_HARMONICS))[None, :] * (
        freqs[:, :SALIENCE_HARMONICS] < MODEL_SAMPLE_RATE / 2 - 500)
    lo = low_midi - LOWEST_MIDI
    hi = high_midi - LOWEST_MIDI + 1
    salience = np.zeros((n_frames, N_PITCHES), dtype=np.float32)
    harmonics = np.zeros((n_frames, hi - lo, TIMBRE_HARMONICS), dtype=np.float16)
    for a in range(0, n_frames, SALIENCE_BLOCK_FRAMES):
        b = min(n_frames, a + SALIENCE_BLOCK_FRAMES)
        idx = (np.arange(a, b) * HOP_SAMPLES)[:, None] + np.arange(SALIENCE_FFT)[None, :]
        mag = np.abs(scipy.fft.rfft(padded[idx] * window, axis=1))
        mag = np.maximum(mag, np.maximum(np.roll(mag, 1, axis=1), np.roll(mag, -1, axis=1)))
        per_h = mag[:, bins]  # (frames, 88, n_h)
        salience[a:b] = np.einsum("fkh,kh->fk", per_h[:, :, :SALIENCE_HARMONICS], weights)
        harmonics[a:b] = per_h[:, lo:hi, :TIMBRE_HARMONICS]
    return Spectrum(salience=salience, harmonics=harmonics, low_midi=low_midi)


def harmonic_salience(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_frames, 88) harmonic-sum magnitude per piano key (see `analyse_spectrum`)."""
    return analyse_spectrum(audio, n_frames).salience


def decoded_tuning_cents(act: Activations, decoded: list[FrameNote]) -> float:
    """The recording's tuning in cents (-50..+50) from the decoded notes' contour pitches."""
    from tunesmith.listen.tuning import estimate_tuning_cents

    return estimate_tuning_cents([SungNote(d.start / act.frame_rate_hz, d.end / act.frame_rate_hz,
                                           refined_pitch(act, d)) for d in decoded])


def to_poly_notes(act: Activations, decoded: list[FrameNote],
                  salience: np.ndarray) -> list[PolyNote]:
    """Timed notes with fractional pitch and a velocity from the salience near the onset."""
    if not decoded:
        return []
    times = act.times_s
    step = 1.0 / act.frame_rate_hz
    level = np.array([_onset_level_db(salience, d) for d in decoded])
    ref = float(np.percentile(level, VELOCITY_REF_PERCENTILE))
    velocity = REF_VELOCITY * 2.0 ** ((level - ref) / VELOCITY_DB_PER_OCTAVE_OF_VELOCITY)
    notes = [PolyNote(onset_s=round(float(times[d.start]), 4),
                      offset_s=round(float(times[min(d.end, act.n_frames - 1)]) + (
                          step if d.end >= act.n_frames else 0.0), 4),
                      pitch=round(refined_pitch(act, d), 3),
                      velocity=int(np.clip(np.rint(v), 1, 127)), confidence=round(d.confidence, 3))
             for d, v in zip(decoded, velocity, strict=True)]
    notes.sort(key=lambda n: (n.onset_s, n.pitch))
    return notes


def _onset_level_db(salience: np.ndarray, note: FrameNote) -> float:
    seg = salience[note.start:min(note.end, note.start + 8), note.key]
    return float(20.0 * np.log10(max(float(seg.max()) if seg.size else 0.0, SALIENCE_FLOOR)))
