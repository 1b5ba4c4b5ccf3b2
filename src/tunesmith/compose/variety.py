"""Song-level harmonic colour: what pop songwriters add to a section's plain diatonic chords.

The harmoniser decodes each section a few bars at a time with cadences, from a melody alone, so
it picks the most likely chords: nearly all plain diatonic triads, half as many distinct chords
per song as the POP909 lead sheets (`bench/compose_stats.py`). Real pop songs colour that
harmony with a handful of devices, each in a typical place. `colour_section` adds them to a
section's chords before its melody is written (so the melody model writes over the coloured
chords) or, in a chorus, where the hum's notes allow them:

- suspensions: a major or minor chord opened as sus4 and resolving to itself (Gsus4 - G); a chord
  whose melody sings its 2nd and not its 3rd becomes sus2 (POP909's annotators write that
  colour as sus2);
- secondary dominants just before their target: V/V before V, V/vi before vi, V/ii before ii
  (I7 before IV is not added: the harmoniser already writes it as often as the training songs);
- in a major key, chords borrowed from the parallel minor: iv after IV on the way to I or V
  (IV - iv - I), bVII between IV and I or I and IV (IV - bVII - I, I - bVII - IV) and bVI
  before V (IV - bVI - V);
- in a minor key, the major IV (dorian) in place of iv, the major I between i and iv (V/iv)
  and the major II before V (V/V); the major V before the tonic is not added: the harmoniser
  already writes it more often than the training songs do.

A device goes in only where the melody lets it: at least half the melody's time on the new
chord's tones and no held note a semitone from one of them (no G against an E major V/vi).
The rates (probability per eligible place) were set so that, on the validation songs (801-850,
seeds 0-2), each device is used no more often per chord than in the POP909 training songs
(001-800), measured by `bench/harmonic_devices.py`; see bench/README.md for both tables. A
device is a rare event in a song whose chorus comes back three times, so a realised rate moves
in steps: the rates were lowered until every device sat below its training rate. Draws come
from the caller's generator, so the same seed gives the same song.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

# Probability per eligible place, set on validation songs 801-850 so that the device's chords
# per 100 chords stay at or below the POP909 training rate given after each (bench/README.md).
SUS4_RATE = 0.16  # training: 3.3 sus4 per 100 chords, 41 % resolving to their own root
SUS2_RATE = 1.0  # training: 4.7 sus2 per 100 chords (ours stays below: few places qualify)
# Secondary dominants in a major key, by target degree (semitones above the tonic): the name and
# the rate. Training (major keys, per 100 chords): V/V 1.26 (60 % resolve), V/ii 1.11 (42 %),
# V/vi 1.10 (67 %). I7 (V/IV, 0.48) is left out: the harmoniser already writes it that often.
SECONDARY_RATES = {7: ("V/V", 0.11), 9: ("V/vi", 0.85), 2: ("V/ii", 0.8)}
IV_MINOR_RATE = 0.3  # major key, IV - iv - I or V; training: iv 0.69 per 100 chords, 41 % before
# I, 22 % before V
BVI_RATE = 0.25  # major key, (IV, ii, vi) - bVI - V; training: bVI 0.36 per 100, 32 % before V
BVII_RATE = 0.18  # major key, IV - bVII - I or I - bVII - IV; training: bVII 0.72 per 100,
# followed by I 22 % and by IV 19 % of the time
DORIAN_IV_RATE = 0.28  # minor key, the major IV for iv; training: 1.86 per 100
MINOR_V_OF_IV_RATE = 0.5  # minor key, i - I - iv (V/iv); training: major I 1.98 per 100,
# 28 % before iv
MINOR_V_OF_V_RATE = 0.05  # minor key, II - V; training: 0.19 per 100, 45 % before V
# The major V in a minor key (training 5.15 per 100 chords) is not added: the harmoniser already
# writes it 6.2 times per 100 chords on the validation songs.
SEVENTH_SHARE = 0.35  # a secondary dominant written as a dominant seventh (D7 rather than D)

MIN_CHORD_TONE_SHARE = 0.5  # of the melody's time over the new chord: on its tones
CLASH_BEATS = 0.5  # a melody note held this long a semitone from a chord tone rules it out
MIN_SPLIT_BEATS = 2  # a chord is split for a passing device only when it lasts this long
LONG_CHORD_BEATS = 4  # ... and gives it 2 beats when it lasts this long, else 1

# The triad of each secondary dominant's target (degree above the tonic) in a major key.
_SECONDARY_TARGETS = {7: "maj", 9: "min", 2: "min"}


def device_of(chord: ChordSymbol, key: Key) -> str | None:
    """The device `chord` is in `key` ("V/V", "iv", "sus4"...), None for a plain key chord; also
    "other" for a chord outside the key that none of the devices names."""
    scale = set(key.scale)
    pcs = set(chord.pitch_classes)
    d = (chord.root - key.tonic) % 12
    if chord.quality in ("sus2", "sus4"):
        return chord.quality if pcs <= scale else "other"
    if pcs <= scale:
        return None
    tq = chord.triad_quality
    if key.mode == "major":
        if tq == "maj" and d in (2, 4, 9, 11):
            return {2: "V/V", 4: "V/vi", 9: "V/ii", 11: "V/iii"}[d]
        if d == 0 and chord.quality == "7":
            return "V/IV"
        return {(5, "min"): "iv", (10, "maj"): "bVII", (8, "maj"): "bVI", (3, "maj"): "bIII"}.get(
            (d, tq), "other")
    return {(7, "maj"): "V", (5, "maj"): "IV", (0, "maj"): "I", (2, "maj"): "V/V"}.get(
        (d, tq), "other")


def _melody_over(melody: Sequence[Note], a: float, b: float) -> list[tuple[int, float]]:
    """(pitch class, beats sounding) of each melody note inside [a, b)."""
    out = []
    for n in melody:
        ov = min(n.end_beat, b) - max(n.start_beat, a)
        if ov > 1e-9:
            out.append((n.pitch % 12, ov))
    return out


def fits(chord: ChordSymbol, melody: Sequence[Note], a: float, b: float) -> bool:
    """Whether the melody over [a, b) lets `chord` sound: mostly its tones, no held clash."""
    sung = _melody_over(melody, a, b)
    total = sum(ov for _, ov in sung)
    if total <= 0:
        return True
    tones = set(chord.pitch_classes)
    on = sum(ov for pc, ov in sung if pc in tones)
    for pc, ov in sung:
        if pc not in tones and ov >= CLASH_BEATS and any((pc - t) % 12 in (1, 11) for t in tones):
            return False
    return on / total >= MIN_CHORD_TONE_SHARE


def _sings(melody: Sequence[Note], a: float, b: float, pc: int) -> float:
    return sum(ov for p, ov in _melody_over(melody, a, b) if p == pc)


def _plain(c: Chord) -> bool:
    return c.chord.bass is None and c.chord.quality in ("maj", "min")


def _passing(prev: Chord, target: Chord, key: Key,
             rng: np.random.Generator) -> list[tuple[ChordSymbol, float]]:
    """Devices that may take the end of `prev` on the way to `target`: (chord,
    rate). Secondary dominants lead to ii, V or vi; iv and bVII sit between IV and I, bVII
    between I and IV, iv between IV and V and bVI between IV, ii or vi and V; in a minor key
    the major I (V/iv) leads from i to iv and the major II (V/V) to V."""
    d = (target.chord.root - key.tonic) % 12
    tq = target.chord.triad_quality
    prev_d = (prev.chord.root - key.tonic) % 12
    out: list[tuple[ChordSymbol, float]] = []
    if key.mode != "major":
        if d == 5 and prev_d == 0 and prev.chord.triad_quality == "min":
            out.append((ChordSymbol(key.tonic, "7" if rng.random() < SEVENTH_SHARE else "maj"),
                        MINOR_V_OF_IV_RATE))
        if d == 7 and tq == "maj" and prev_d != 2:
            out.append((ChordSymbol((key.tonic + 2) % 12, "maj"), MINOR_V_OF_V_RATE))
        return out
    if _SECONDARY_TARGETS.get(d) == tq and target.chord.bass is None:
        root = (target.chord.root + 7) % 12
        if prev.chord.root != root:
            quality = "7" if rng.random() < SEVENTH_SHARE else "maj"
            out.append((ChordSymbol(root, quality), SECONDARY_RATES[d][1]))
    if d == 0 and tq == "maj" and prev_d == 5 and prev.chord.triad_quality == "maj":
        out.append((ChordSymbol(prev.chord.root, "min"), IV_MINOR_RATE))
        out.append((ChordSymbol((key.tonic + 10) % 12, "maj"), BVII_RATE))
    if d == 5 and tq == "maj" and prev_d == 0 and prev.chord.triad_quality == "maj":
        out.append((ChordSymbol((key.tonic + 10) % 12, "maj"), BVII_RATE))
    if d == 7 and tq == "maj" and prev_d in (2, 5, 9) and prev.chord.bass is None:
        if prev_d == 5 and prev.chord.triad_quality == "maj":
            out.append((ChordSymbol(prev.chord.root, "min"), IV_MINOR_RATE))
        out.append((ChordSymbol((key.tonic + 8) % 12, "maj"), BVI_RATE))
    return out


def colour_section(chords: Sequence[Chord], melody: Sequence[Note], *, key: Key,
                   rng: np.random.Generator) -> list[Chord]:
    """The section's chords with pop devices added where the melody allows them (see the
    module docstring); chords in beats, as the melody. Deterministic for a given generator."""
    out = list(chords)
    # One generator per step, so that a rate changed in one step leaves the others' draws alone.
    colour_rng, passing_rng, sus_rng = (np.random.default_rng(int(x))
                                        for x in rng.integers(2**32, size=3))
    # 1. Whole-chord colours: sus2 where the melody sings the 2nd and not the 3rd; in minor,
    # the dorian IV for iv.
    for i, c in enumerate(out):
        if not _plain(c):
            continue
        d = (c.chord.root - key.tonic) % 12
        third = (c.chord.root + (4 if c.chord.quality == "maj" else 3)) % 12
        second = (c.chord.root + 2) % 12
        new: ChordSymbol | None = None
        if key.mode == "minor" and c.chord.quality == "min" and d == 5:
            cand = ChordSymbol(c.chord.root, "maj")
            if colour_rng.random() < DORIAN_IV_RATE and fits(cand, melody, c.start_beat, c.end_beat):
                new = cand
        if new is None and _sings(melody, c.start_beat, c.end_beat, second) >= CLASH_BEATS \
                and _sings(melody, c.start_beat, c.end_beat, third) == 0:
            cand = ChordSymbol(c.chord.root, "sus2")
            if set(cand.pitch_classes) <= set(key.scale) and colour_rng.random() < SUS2_RATE:
                new = cand
        if new is not None:
            out[i] = Chord(c.start_beat, c.duration_beats, new)
    # 2. Passing devices: the end of a chord becomes a secondary dominant or a borrowed chord
    # leading into the next one.
    passed: list[Chord] = []
    arrivals: set[int] = set()  # chords reached from a passing device: they resolve it, as is
    for i, c in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else None
        if nxt is None or c.duration_beats < MIN_SPLIT_BEATS or i == 0 and c.duration_beats < 4:
            passed.append(c)
            continue
        span = 2.0 if c.duration_beats >= LONG_CHORD_BEATS else 1.0
        cut = c.end_beat - span
        chosen: ChordSymbol | None = None
        for cand, rate in _passing(c, nxt, key, passing_rng):
            if passing_rng.random() < rate and fits(cand, melody, cut, c.end_beat):
                chosen = cand
                break
        if chosen is None:
            passed.append(c)
        else:
            passed += [Chord(c.start_beat, cut - c.start_beat, c.chord), Chord(cut, span, chosen)]
            arrivals.add(len(passed))
    # 3. Suspensions: a plain chord after the section's first opens as sus4 and resolves; not
    # two in a row (Asus4 A Dsus4 D in one bar is busier than any songwriter's chord rhythm).
    final: list[Chord] = []
    for i, c in enumerate(passed):
        cand = ChordSymbol(c.chord.root, "sus4")
        span = 2.0 if c.duration_beats >= LONG_CHORD_BEATS else 1.0
        after_sus = len(final) >= 2 and final[-2].chord.quality == "sus4"
        if i > 0 and i not in arrivals and not after_sus and _plain(c) \
                and c.duration_beats >= MIN_SPLIT_BEATS \
                and set(cand.pitch_classes) <= set(key.scale) and sus_rng.random() < SUS4_RATE \
                and fits(cand, melody, c.start_beat, c.start_beat + span):
            final += [Chord(c.start_beat, span, cand), Chord(c.start_beat + span,
                                                             c.duration_beats - span, c.chord)]
        else:
            final.append(c)
    return final
