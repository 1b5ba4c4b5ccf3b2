"""Melody material: the hummed hook, and variations built from its rhythm and contour."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tunesmith.score import Note
from tunesmith.theory import Key

MELODY_CENTRE = 67  # G4: middle of a comfortable lead range
MELODY_LOW, MELODY_HIGH = 55, 81
MAX_HOOK_BARS = 8


@dataclass(frozen=True, slots=True)
class Hook:
    """The hummed phrase, starting at beat 0 of its first full bar. `pickup` notes sit before 0."""

    notes: tuple[Note, ...]
    pickup: tuple[Note, ...]
    bars: int


def make_hook(melody: Sequence[Note], *, beats_per_bar: int, key: Key) -> Hook:
    """Fit the quantised hum to whole bars (1, 2, 4, 8 or 16) and a singable register."""
    body = [n for n in melody if n.start_beat >= 0]
    pickup = [n for n in melody if n.start_beat < 0]
    if not body:
        body, pickup = list(pickup), []
    last_start = max(n.start_beat for n in body)
    used_bars = int(math.floor(last_start / beats_per_bar)) + 1
    # A long hum (a whole verse hummed) keeps its opening phrase as the hook.
    bars = next(b for b in (1, 2, 4, MAX_HOOK_BARS) if b >= min(used_bars, MAX_HOOK_BARS))
    limit = bars * beats_per_bar
    notes = [replace(n, duration_beats=min(n.duration_beats, limit - n.start_beat))
             for n in body if n.start_beat < limit]
    notes = legato(notes, max_gap_beats=0.5)
    pickup = legato(pickup, max_gap_beats=0.5)
    shift = _octave_shift([*notes, *pickup])
    notes = [replace(n, pitch=n.pitch + shift) for n in notes]
    pickup = [replace(n, pitch=n.pitch + shift) for n in pickup]
    return Hook(tuple(notes), tuple(pickup), bars)


def legato(notes: Sequence[Note], *, max_gap_beats: float) -> list[Note]:
    """Close the small breath gaps a singer leaves between notes of a phrase."""
    out = list(notes)
    for i in range(len(out) - 1):
        gap = out[i + 1].start_beat - out[i].end_beat
        if 0 < gap <= max_gap_beats:
            out[i] = replace(out[i], duration_beats=out[i + 1].start_beat - out[i].start_beat)
    return out


def _octave_shift(notes: Sequence[Note]) -> int:
    if not notes:
        return 0
    pitches = sorted(n.pitch for n in notes)
    median = pitches[len(pitches) // 2]
    return 12 * round((MELODY_CENTRE - median) / 12)


def _degree_index(pitch: int, key: Key) -> tuple[int, int]:
    """(diatonic step index counting from C-1 of the key, chromatic remainder)."""
    scale = key.scale
    octave, pc = divmod(pitch - key.tonic, 12)
    rel = [(s - key.tonic) % 12 for s in scale]
    best = min(range(7), key=lambda i: (abs(rel[i] - pc), rel[i] > pc))
    return octave * 7 + best, pc - rel[best]


def _from_degree(index: int, key: Key, chroma: int = 0) -> int:
    octave, deg = divmod(index, 7)
    rel = (key.scale[deg] - key.tonic) % 12
    return key.tonic + 12 * octave + rel + chroma


def diatonic_shift(notes: Sequence[Note], steps: int, key: Key) -> list[Note]:
    out = []
    for n in notes:
        idx, _chroma = _degree_index(n.pitch, key)
        out.append(replace(n, pitch=_from_degree(idx + steps, key)))
    return out


def nearest_degree(pitch: int, key: Key, degree_pc_offset: int) -> int:
    """The pitch of scale member `tonic + degree_pc_offset` nearest to `pitch`."""
    target = (key.tonic + degree_pc_offset) % 12
    cands = [p for p in range(pitch - 6, pitch + 7) if p % 12 == target]
    return min(cands, key=lambda p: abs(p - pitch))


def fit_range(notes: Sequence[Note]) -> list[Note]:
    shift = _octave_shift(notes)
    out = [replace(n, pitch=n.pitch + shift) for n in notes]
    return [replace(n, pitch=n.pitch + 12 if n.pitch < MELODY_LOW else n.pitch - 12 if n.pitch > MELODY_HIGH else n.pitch) for n in out]


def end_on(notes: list[Note], *, key: Key, degree_offset: int, end_beat: float) -> list[Note]:
    """Make the phrase's last note land on a scale member (0 = tonic, 7 = fifth) and ring to
    `end_beat`."""
    if not notes:
        return notes
    last = notes[-1]
    pitch = nearest_degree(last.pitch, key, degree_offset)
    notes[-1] = replace(last, pitch=pitch, duration_beats=max(last.duration_beats, end_beat - last.start_beat))
    return notes


def repeat_to(notes: Sequence[Note], *, period: float, total: float) -> list[Note]:
    out = []
    k = 0
    while k * period < total:
        out += [n.shifted(k * period) for n in notes if n.start_beat + k * period < total]
        k += 1
    return out


def chorus_melody(hook: Hook, *, bars: int, beats_per_bar: int, key: Key) -> list[Note]:
    """The hum verbatim, repeated to fill the chorus; the last statement resolves to the tonic."""
    period = hook.bars * beats_per_bar
    total = bars * beats_per_bar
    notes = repeat_to(hook.notes, period=period, total=total)
    if hook.bars < bars:
        last_start = total - period
        tail = [n for n in notes if n.start_beat >= last_start]
        head = [n for n in notes if n.start_beat < last_start]
        tail = end_on(tail, key=key, degree_offset=0, end_beat=total - 0.5)
        notes = head + tail
    return _clip(notes, total)


def verse_melody(hook: Hook, *, bars: int, beats_per_bar: int, key: Key) -> list[Note]:
    """New phrases from the hum's rhythm and contour: lower (a third down), simpler (long notes
    kept, the busiest run thinned), answering phrases ending open on the fifth."""
    period = hook.bars * beats_per_bar
    src = list(hook.notes)
    if hook.bars >= 4:  # use the first half of a long hook as the motif
        half = period / 2
        src = [n for n in src if n.start_beat < half]
        period = half
    call = diatonic_shift(src, -2, key)
    answer = diatonic_shift(src, -1, key)
    total = bars * beats_per_bar
    out: list[Note] = []
    k = 0
    while k * period < total:
        phrase = call if k % 2 == 0 else answer
        shifted = [n.shifted(k * period) for n in phrase]
        if k % 2 == 1:
            end = (k + 1) * period - 0.5
            shifted = end_on(shifted, key=key, degree_offset=7 if (k + 1) * period >= total else 4,
                             end_beat=min(end, total - 0.5))
        out += [n for n in shifted if n.start_beat < total]
        k += 1
    out = [replace(n, velocity=max(1, n.velocity - 8)) for n in out]
    return _clip(fit_range(out), total)


def prechorus_melody(hook: Hook, *, bars: int, beats_per_bar: int, key: Key) -> list[Note]:
    """A rising sequence of the hum's first beat-group: builds tension into the chorus."""
    motif = [n for n in hook.notes if n.start_beat < beats_per_bar] or list(hook.notes[:3])
    total = bars * beats_per_bar
    out: list[Note] = []
    for b in range(bars):
        out += [n.shifted(b * beats_per_bar) for n in diatonic_shift(motif, b, key)]
    out = end_on([n for n in out if n.start_beat < total], key=key, degree_offset=7,
                 end_beat=total - 0.25)
    return _clip(fit_range(out), total)


def bridge_melody(hook: Hook, *, bars: int, beats_per_bar: int, key: Key) -> list[Note]:
    """Contrast: the hum's opening in augmentation (twice as slow), sequenced from the IV."""
    motif = [n for n in hook.notes if n.start_beat < 2 * beats_per_bar]
    augmented = [replace(n, start_beat=n.start_beat * 2, duration_beats=n.duration_beats * 2)
                 for n in motif]
    span = 4 * beats_per_bar
    total = bars * beats_per_bar
    out: list[Note] = []
    for k, steps in enumerate((3, 1, 4, 2)):
        if k * span >= total:
            break
        out += [n.shifted(k * span) for n in diatonic_shift(augmented, steps, key)
                if n.start_beat < span]
    out = end_on([n for n in out if n.start_beat < total], key=key, degree_offset=7,
                 end_beat=total - 0.5)
    return _clip(fit_range(out), total)


def outro_melody(hook: Hook, *, bars: int, beats_per_bar: int, key: Key) -> list[Note]:
    """The hum's closing bars once more, ending on a long tonic."""
    period = hook.bars * beats_per_bar
    keep = min(period, max(beats_per_bar, (bars - 1) * beats_per_bar))
    tail = [n.shifted(-(period - keep)) for n in hook.notes if n.start_beat >= period - keep]
    total = bars * beats_per_bar
    tail = end_on(tail, key=key, degree_offset=0, end_beat=total - 0.25)
    return _clip(tail, total)


def _clip(notes: Sequence[Note], total: float) -> list[Note]:
    out = []
    for n in sorted(notes, key=lambda n: n.start_beat):
        if n.start_beat >= total or n.start_beat < 0:
            continue
        out.append(replace(n, duration_beats=min(n.duration_beats, total - n.start_beat)))
    return out


def remove_overlaps(notes: Sequence[Note]) -> list[Note]:
    """Monophonic line: each note ends no later than the next begins."""
    ordered = sorted(notes, key=lambda n: (n.start_beat, -n.pitch))
    out: list[Note] = []
    for n in ordered:
        if out and n.start_beat < out[-1].end_beat:
            prev = out[-1]
            if n.start_beat - prev.start_beat < 0.125:
                continue
            out[-1] = replace(prev, duration_beats=n.start_beat - prev.start_beat)
        out.append(n)
    return out
