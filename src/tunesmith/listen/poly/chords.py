"""Chord symbols per beat from the notes of a full mix.

1. Per beat, two 12-bin chroma vectors from the transcribed notes: the harmony (every note,
   weighted by how much of the beat it sounds; melody notes count less, being full of passing
   tones; compressed by a power < 1 so one loud pitch class does not hide the others) and the
   bass (the same, with the notes nearest the lowest one weighted most). Weighting by loudness
   as well was tried and tuned away: the bass is loud but the chord's colour is in quieter notes.
2. Every chord of the vocabulary (12 roots x the qualities of `tunesmith.theory`, plus "no
   chord") scores each beat: cosine similarity of the harmony chroma with the chord's tones,
   a bonus when the bass plays the root (less for another chord tone: inversions) and a prior
   on the quality (how much of POP909's training songs each quality fills). A bonus for chords
   of the key's scale was tried and tuned to nothing, so the chords do not depend on the key.
3. An HMM over the beats (Viterbi): a chord tends to last (a constant score for staying),
   so a single beat that looks like another chord does not flip the label.
Weights were tuned on POP909 training songs (001-800) rendered to audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.listen.poly.melody import viterbi
from tunesmith.listen.poly.notes import PolyNote
from tunesmith.score import SungNote
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol

# Share of chord time per quality in POP909 songs 001-800 (chord_midi.txt, inversions folded).
QUALITY_SHARE = {
    "maj": 0.506, "min": 0.332, "sus2": 0.039, "min7": 0.038, "maj7": 0.023, "sus4": 0.019,
    "7": 0.011, "dim": 0.005, "6": 0.0046, "m7b5": 0.0016, "aug": 0.0012, "dim7": 0.0004,
    "min6": 0.0004,
}
VOCABULARY = tuple(q for q in QUALITY_SHARE if q in CHORD_QUALITIES)


@dataclass(frozen=True, slots=True)
class ChordParams:
    """Weights of the chord recogniser (tuned on POP909 training songs)."""

    melody_weight: float = 0.15  # a melody note counts this much in the harmony chroma
    velocity_power: float = 0.0  # a note weighs (velocity / 127) ** this (0: loudness ignored)
    chroma_power: float = 0.7  # compression of the harmony chroma before matching
    bass_spread: float = 8.0  # semitones over the lowest note at which bass weight falls by e
    fit_weight: float = 20.0  # x cosine(harmony chroma, chord tones)
    root_bass_weight: float = 5.0  # x share of the bass on the root
    inversion_bass_weight: float = 0.5  # x share of the bass on another chord tone
    prior_weight: float = 0.25  # x log(quality share)
    stay_score: float = 3.0  # staying on a chord from one beat to the next
    no_chord_score: float = 4.0  # "no chord" fits a beat whose notes are this quiet
    quiet_fraction: float = 0.1  # a beat with less note energy than this x median is quiet


DEFAULT_CHORD_PARAMS = ChordParams()


@dataclass(frozen=True, slots=True)
class TimedChord:
    """A chord heard from `start_s` to `end_s`; `chord` is None where no chord sounds."""

    start_s: float
    end_s: float
    chord: ChordSymbol | None

    @property
    def symbol(self) -> str:
        return self.chord.symbol() if self.chord is not None else "N"


def beat_chroma(notes: Sequence[PolyNote], beats: np.ndarray, *,
                melody: Sequence[SungNote] = (), params: ChordParams = DEFAULT_CHORD_PARAMS,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(harmony, bass, energy): chroma per beat interval [beats[i], beats[i+1]) (n-1 rows)."""
    n = max(len(beats) - 1, 0)
    harmony = np.zeros((n, 12))
    bass = np.zeros((n, 12))
    energy = np.zeros(n)
    if n == 0 or not notes:
        return harmony, bass, energy
    on = np.array([x.onset_s for x in notes])
    off = np.array([x.offset_s for x in notes])
    pitch = np.array([x.midi for x in notes])
    amp = (np.array([x.velocity for x in notes]) / 127.0) ** params.velocity_power
    amp *= np.where(melody_mask(notes, melody), params.melody_weight, 1.0)
    starts, ends = beats[:-1], beats[1:]
    overlap = np.clip(np.minimum(off[None, :], ends[:, None])
                      - np.maximum(on[None, :], starts[:, None]), 0.0, None)
    overlap /= (ends - starts)[:, None]
    weight = overlap * amp[None, :]
    pcs = pitch % 12
    for pc in range(12):
        harmony[:, pc] = weight[:, pcs == pc].sum(axis=1)
    sounding = overlap > 0.05
    lowest = np.where(sounding, pitch[None, :], 10_000).min(axis=1, keepdims=True)
    bass_w = weight * np.exp(-np.clip(pitch[None, :] - lowest, 0, None) / params.bass_spread)
    for pc in range(12):
        bass[:, pc] = bass_w[:, pcs == pc].sum(axis=1)
    energy = harmony.sum(axis=1)
    return harmony, bass, energy


def melody_mask(notes: Sequence[PolyNote], melody: Sequence[SungNote]) -> np.ndarray:
    """Which notes are the melody's own (same key, overlapping a melody note)."""
    mask = np.zeros(len(notes), dtype=bool)
    if not melody:
        return mask
    m_on = np.array([m.onset_s for m in melody])
    m_off = np.array([m.offset_s for m in melody])
    m_pitch = np.array([m.midi for m in melody])
    for i, x in enumerate(notes):
        hit = (m_pitch == x.midi) & (m_on < x.offset_s) & (m_off > x.onset_s)
        mask[i] = bool(np.any(hit))
    return mask


def chord_templates() -> tuple[list[ChordSymbol], np.ndarray]:
    """Every chord of the vocabulary and its unit-length 12-bin template."""
    chords = [ChordSymbol(root, q) for q in VOCABULARY for root in range(12)]
    tmpl = np.zeros((len(chords), 12))
    for i, c in enumerate(chords):
        tmpl[i, list(c.pitch_classes)] = 1.0
    return chords, tmpl / np.linalg.norm(tmpl, axis=1, keepdims=True)


def chord_scores(harmony: np.ndarray, bass: np.ndarray, energy: np.ndarray, *,
                 params: ChordParams = DEFAULT_CHORD_PARAMS,
                 ) -> tuple[list[ChordSymbol | None], np.ndarray]:
    """Per-beat score of every chord (columns; the last is "no chord")."""
    chords, tmpl = chord_templates()
    shaped = harmony ** params.chroma_power
    norm = np.linalg.norm(shaped, axis=1, keepdims=True)
    fit = (shaped / np.maximum(norm, 1e-12)) @ tmpl.T
    bass_share = bass / np.maximum(bass.sum(axis=1, keepdims=True), 1e-12)
    roots = np.array([c.root for c in chords])
    tones = np.zeros((len(chords), 12))
    for i, c in enumerate(chords):
        tones[i, list(c.pitch_classes)] = 1.0
        tones[i, c.root] = 0.0
    score = (params.fit_weight * fit + params.root_bass_weight * bass_share[:, roots]
             + params.inversion_bass_weight * bass_share @ tones.T)
    prior = np.array([np.log(QUALITY_SHARE[c.quality]) for c in chords])
    score += params.prior_weight * prior[None, :]
    ref = float(np.median(energy[energy > 0])) if np.any(energy > 0) else 1.0
    quiet = energy < params.quiet_fraction * ref
    best = score.max(axis=1, keepdims=True)
    no_chord = np.where(quiet, best[:, 0] + params.no_chord_score, best[:, 0] - 1e3)[:, None]
    labels: list[ChordSymbol | None] = [*chords, None]
    return labels, np.hstack([score, no_chord])


def recognize_chords(notes: Sequence[PolyNote], beats: np.ndarray, *,
                     melody: Sequence[SungNote] = (),
                     params: ChordParams = DEFAULT_CHORD_PARAMS) -> list[TimedChord]:
    """One chord per beat, smoothed by an HMM, merged into spans of the same chord."""
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 2:
        return []
    harmony, bass, energy = beat_chroma(notes, beats, melody=melody, params=params)
    labels, scores = chord_scores(harmony, bass, energy, params=params)
    n_states = scores.shape[1]
    trans = np.zeros((n_states, n_states))
    np.fill_diagonal(trans, params.stay_score)
    path = viterbi(scores, trans)
    out: list[TimedChord] = []
    for i, state in enumerate(path):
        chord = labels[int(state)]
        start, end = float(beats[i]), float(beats[i + 1])
        if out and out[-1].chord == chord:
            out[-1] = TimedChord(out[-1].start_s, round(end, 4), chord)
        else:
            out.append(TimedChord(round(start, 4), round(end, 4), chord))
    return out


def frame_chord_labels(chroma: np.ndarray) -> list[ChordSymbol]:
    """Best chord of the vocabulary per chroma frame (cosine to the templates, no smoothing,
    no prior): the plain template-matching baseline."""
    chords, tmpl = chord_templates()
    norm = np.linalg.norm(chroma, axis=1, keepdims=True)
    fit = (chroma / np.maximum(norm, 1e-12)) @ tmpl.T
    return [chords[int(i)] for i in np.argmax(fit, axis=1)]
