"""Choose chords for a melody: a Viterbi search over half-bar slots.

Scores combine melody fit (chord tones on strong beats), a prior per harmonic function,
transition preferences (V->I, IV->V, ii->V, vi->IV...) and cadences at phrase ends. Chords usually
change at bar lines; a mid-bar change must pay for itself in melody fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key


@dataclass(frozen=True, slots=True)
class Candidate:
    roman: str
    chord: ChordSymbol
    prior: float  # log-ish preference: diatonic staples high, borrowed chords low


# (roman, semitones above tonic, quality, prior)
_MAJOR = (
    ("I", 0, "maj", 0.0), ("ii", 2, "min", -0.5), ("iii", 4, "min", -1.2), ("IV", 5, "maj", -0.1),
    ("V", 7, "maj", -0.1), ("vi", 9, "min", -0.3), ("bVII", 10, "maj", -1.6), ("iv", 5, "min", -1.8),
    ("bVI", 8, "maj", -1.8), ("V/V", 2, "maj", -1.8),
)
_MINOR = (
    ("i", 0, "min", 0.0), ("iv", 5, "min", -0.2), ("v", 7, "min", -0.9), ("V", 7, "maj", -0.3),
    ("bIII", 3, "maj", -0.4), ("bVI", 8, "maj", -0.3), ("bVII", 7 + 3, "maj", -0.3),
    ("IV", 5, "maj", -1.6), ("ii°", 2, "dim", -2.0),
)

# Transition bonuses between roman numerals (from -> to); anything absent scores 0.
_TRANSITIONS: dict[tuple[str, str], float] = {
    ("V", "I"): 1.2, ("V", "i"): 1.2, ("IV", "V"): 0.7, ("ii", "V"): 0.9, ("vi", "IV"): 0.6,
    ("I", "IV"): 0.5, ("I", "V"): 0.4, ("I", "vi"): 0.5, ("vi", "ii"): 0.5, ("IV", "I"): 0.4,
    ("iii", "vi"): 0.6, ("V/V", "V"): 1.0, ("bVII", "I"): 0.6, ("iv", "I"): 0.8, ("bVI", "bVII"): 0.7,
    ("i", "iv"): 0.5, ("iv", "V"): 0.7, ("iv", "v"): 0.4, ("bVII", "i"): 0.6,
    ("bIII", "bVI"): 0.5, ("i", "bVI"): 0.5, ("i", "bVII"): 0.4, ("bVI", "V"): 0.5, ("v", "i"): 0.5,
    ("IV", "vi"): 0.2, ("V", "vi"): 0.5, ("ii", "I"): -0.3, ("V", "IV"): -0.4, ("iii", "I"): -0.3,
}
_TONIC = {"I", "i"}
_DOMINANT = {"V", "v"}


def candidates(key: Key) -> list[Candidate]:
    table = _MAJOR if key.mode == "major" else _MINOR
    return [Candidate(r, ChordSymbol((key.tonic + s) % 12, q), p) for r, s, q, p in table]


def _metric_weight(beat_in_bar: float, beats_per_bar: int) -> float:
    if abs(beat_in_bar) < 1e-6:
        return 2.0
    if beats_per_bar == 4 and abs(beat_in_bar - 2) < 1e-6:
        return 1.5
    if abs(beat_in_bar - round(beat_in_bar)) < 1e-6:
        return 1.1
    return 0.7


def _fit(notes: Sequence[Note], chord: ChordSymbol, start: float, end: float,
         beats_per_bar: int) -> float:
    """Melody fit of `chord` over [start, end): + for chord tones, - for clashes."""
    tones = set(chord.pitch_classes)
    total = 0.0
    for n in notes:
        overlap = min(n.end_beat, end) - max(n.start_beat, start)
        if overlap <= 0:
            continue
        on_beat = n.start_beat >= start - 1e-6
        w = overlap * (_metric_weight(n.start_beat % beats_per_bar, beats_per_bar) if on_beat else 0.6)
        pc = n.pitch % 12
        if pc in tones:
            total += w
        elif any((pc - t) % 12 in (1, 11) for t in tones):
            total -= 0.9 * w  # semitone clash with a chord tone
        else:
            total -= 0.25 * w  # passing/colour tone
    return total


def harmonize(melody: Sequence[Note], *, key: Key, start_beat: float, n_bars: int,
              beats_per_bar: int = 4, phrase_bars: int = 4, final_cadence: bool = True,
              open_ending: bool = False, start_on_tonic: bool = True,
              seed: int = 0) -> list[Chord]:
    """Chords for `n_bars` bars from `start_beat`. `phrase_bars` marks where half cadences (V)
    and, at the end, authentic cadences (V-I) are wanted. `open_ending` ends on V instead (a
    section that leads into the next)."""
    rng = np.random.default_rng(seed)
    cands = candidates(key)
    n_c = len(cands)
    half = beats_per_bar / 2
    n_slots = n_bars * 2
    emit = np.zeros((n_slots, n_c))
    for s in range(n_slots):
        a = start_beat + s * half
        for j, c in enumerate(cands):
            emit[s, j] = 1.2 * _fit(melody, c.chord, a, a + half, beats_per_bar) + 0.35 * c.prior
    emit += rng.normal(0, 0.05, emit.shape)  # seeded tie-breaking, variety between seeds
    trans_bar = np.zeros((n_c, n_c))
    for i, ci in enumerate(cands):
        for j, cj in enumerate(cands):
            trans_bar[i, j] = 0.8 * _TRANSITIONS.get((ci.roman, cj.roman), 0.0) - (0.5 if i == j else 0.0)
    trans_mid = trans_bar - 0.8  # a change in the middle of a bar must earn its place
    np.fill_diagonal(trans_mid, 0.0)
    # Cadence shaping.
    tonic_idx = [j for j, c in enumerate(cands) if c.roman in _TONIC]
    dom_idx = [j for j, c in enumerate(cands) if c.roman in _DOMINANT]
    for bar in range(n_bars):
        last_slot = bar * 2 + 1
        is_last_bar = bar == n_bars - 1
        if (bar + 1) % phrase_bars == 0 and not is_last_bar:
            emit[last_slot, dom_idx] += 0.8  # half cadence at a phrase end
        if is_last_bar and final_cadence:
            if open_ending:
                emit[last_slot - 1:last_slot + 1, dom_idx] += 3.0
            else:
                emit[last_slot - 1:last_slot + 1, tonic_idx] += 3.0
                if bar > 0:
                    emit[last_slot - 2, dom_idx] += 1.2
    if start_on_tonic:
        emit[0, tonic_idx] += 1.5
    # Viterbi.
    score = emit[0].copy()
    back = np.zeros((n_slots, n_c), dtype=int)
    for s in range(1, n_slots):
        trans = trans_mid if s % 2 == 1 else trans_bar
        total = score[:, None] + trans
        back[s] = np.argmax(total, axis=0)
        score = total[back[s], np.arange(n_c)] + emit[s]
    path = [int(np.argmax(score))]
    for s in range(n_slots - 1, 0, -1):
        path.append(int(back[s, path[-1]]))
    path.reverse()
    chords: list[Chord] = []
    for s, j in enumerate(path):
        a = start_beat + s * half
        if chords and chords[-1].chord == cands[j].chord:
            prev = chords[-1]
            chords[-1] = Chord(prev.start_beat, prev.duration_beats + half, prev.chord)
        else:
            chords.append(Chord(a, half, cands[j].chord))
    return chords


def roman_of(chord: ChordSymbol, key: Key) -> str:
    for c in candidates(key):
        if c.chord.root == chord.root and c.chord.triad_quality == chord.triad_quality:
            return c.roman
    return "?"
