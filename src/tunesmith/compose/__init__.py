"""compose: a hummed phrase becomes a lead sheet (melody, chords, song form).

Pure entry point: `compose(melody, key=..., tempo_bpm=..., ...) -> Score` holding one `melody`
track, the chord symbols and the sections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from tunesmith.compose.form import FormSection, plan_form
from tunesmith.compose.harmony import harmonize
from tunesmith.compose.melody import (
    Hook,
    bridge_melody,
    chorus_melody,
    make_hook,
    outro_melody,
    prechorus_melody,
    remove_overlaps,
    verse_melody,
)
from tunesmith.config import DEFAULT_LENGTH_S
from tunesmith.errors import TunesmithError
from tunesmith.score import Chord, Note, Score, Section, Track
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MIN_LENGTH_S = 20.0
MAX_LENGTH_S = 900.0

__all__ = ["DEFAULT_LENGTH_S", "ComposeError", "compose", "transpose_to_key"]


class ComposeError(TunesmithError):
    """The melody or the requested form cannot be composed."""


MelodyWriter = Callable[..., list[Note]]
_WRITERS: dict[str, MelodyWriter] = {
    "verse": verse_melody,
    "prechorus": prechorus_melody,
    "chorus": chorus_melody,
    "bridge": bridge_melody,
    "outro": outro_melody,
}


def transpose_to_key(melody: Sequence[Note], *, source: Key, target: Key) -> list[Note]:
    """Move a melody to another key by the smallest tonic interval. When the mode changes
    (a major hum asked for in a minor key), each note keeps its scale degree: the 3rd, 6th and
    7th degrees move to the new mode's, chromatic notes keep their offset from the degree."""
    shift = (target.tonic - source.tonic) % 12
    if shift > 6:
        shift -= 12
    if source.mode == target.mode:
        return [replace(n, pitch=n.pitch + shift) for n in melody]
    src_rel = [(pc - source.tonic) % 12 for pc in source.scale]
    dst_rel = [(pc - target.tonic) % 12 for pc in target.scale]
    out = []
    for n in melody:
        octave, rel = divmod(n.pitch - source.tonic, 12)
        degree = min(range(7), key=lambda d: (abs(src_rel[d] - rel), src_rel[d] > rel))
        chroma = rel - src_rel[degree]
        pitch = source.tonic + shift + 12 * octave + dst_rel[degree] + chroma
        out.append(replace(n, pitch=pitch))
    return out


def compose(melody: Sequence[Note], *, key: Key, tempo_bpm: float, beats_per_bar: int = 4,
            length_s: float = DEFAULT_LENGTH_S, seed: int = 0) -> Score:
    """Build a whole song's lead sheet around a hummed phrase (the chorus keeps it verbatim)."""
    if not melody:
        raise ComposeError("there is no melody to compose from")
    if not MIN_LENGTH_S <= length_s <= MAX_LENGTH_S:
        raise ComposeError(f"song length must be between {MIN_LENGTH_S:.0f} s and "
                           f"{MAX_LENGTH_S / 60:.0f} min, not {length_s:.0f} s")
    hook = make_hook(melody, beats_per_bar=beats_per_bar, key=key)
    chorus_bars = max(8, hook.bars)
    seconds_per_bar = beats_per_bar * 60.0 / tempo_bpm
    form = plan_form(chorus_bars=chorus_bars, seconds_per_bar=seconds_per_bar, target_s=length_s,
                     hook_bars=hook.bars)
    log.info("form: %s", " ".join(f"{s.label}({s.bars})" for s in form))

    sections: list[Section] = []
    notes: list[Note] = []
    chords: list[Chord] = []
    chorus_chords: list[Chord] | None = None
    beat = 0.0
    for i, fs in enumerate(form):
        length = fs.bars * beats_per_bar
        sections.append(Section(fs.kind, fs.label, beat, length, fs.energy))
        part = _section_melody(fs, hook, beats_per_bar=beats_per_bar, key=key)
        nxt = form[i + 1] if i + 1 < len(form) else None
        if nxt is not None and nxt.kind == "chorus" and hook.pickup:
            # The hum's pickup leads into every chorus: drop what it would overlap.
            pick_start = min(n.start_beat for n in hook.pickup) + length
            part = [n for n in part if n.end_beat <= pick_start + 1e-6]
            part += [n.shifted(length) for n in hook.pickup]
        notes += [n.shifted(beat) for n in part]
        if fs.kind == "chorus" and chorus_chords is not None:
            section_chords = [replace(c, start_beat=c.start_beat - chorus_chords[0].start_beat + beat)
                              for c in chorus_chords]  # every chorus keeps its harmony
        elif fs.kind in ("intro", "outro") and not part:
            section_chords = []
        else:
            section_chords = harmonize(
                [n.shifted(beat) for n in part], key=key, start_beat=beat, n_bars=fs.bars,
                beats_per_bar=beats_per_bar, open_ending=fs.kind in ("prechorus", "bridge"),
                start_on_tonic=fs.kind in ("chorus", "verse", "outro"), seed=seed + i)
            if fs.kind == "chorus":
                chorus_chords = section_chords
        chords += section_chords
        beat += length
    chords = _fill_instrumental(chords, sections, key=key, beats_per_bar=beats_per_bar, seed=seed)
    melody_track = Track(name="melody", role="melody", notes=remove_overlaps(notes))
    return Score(tempo_bpm=tempo_bpm, key=key, beats_per_bar=beats_per_bar,
                 tracks=[melody_track], chords=chords, sections=sections)


def _section_melody(fs: FormSection, hook: Hook, *, beats_per_bar: int, key: Key) -> list[Note]:
    if fs.kind == "intro":
        return []
    writer = _WRITERS.get(fs.kind, verse_melody)
    return writer(hook, bars=fs.bars, beats_per_bar=beats_per_bar, key=key)


def _fill_instrumental(chords: list[Chord], sections: list[Section], *, key: Key,
                       beats_per_bar: int, seed: int) -> list[Chord]:
    """Sections with no melody (intro, instrumental outro) borrow the chorus's closing harmony."""
    chorus = [c for c, s in _chords_by_section(chords, sections) if s.kind == "chorus"]
    out = list(chords)
    for s in sections:
        if any(s.start_beat <= c.start_beat < s.end_beat for c in chords):
            continue
        bars = int(round(s.duration_beats / beats_per_bar))
        if chorus:
            first = chorus[0].start_beat
            first_chorus = next(x for x in sections if x.kind == "chorus")
            span = min(first_chorus.duration_beats, 8 * beats_per_bar)
            src = [c for c in chorus if c.start_beat - first < span]
            tail_start = first + span - bars * beats_per_bar
            tail = [c for c in src if c.end_beat > tail_start]
            out += [Chord(max(c.start_beat, tail_start) - tail_start + s.start_beat,
                          c.end_beat - max(c.start_beat, tail_start), c.chord) for c in tail]
        else:
            out += harmonize([], key=key, start_beat=s.start_beat, n_bars=bars,
                             beats_per_bar=beats_per_bar, seed=seed)
    return sorted(out, key=lambda c: c.start_beat)


def _chords_by_section(chords: list[Chord], sections: list[Section]) -> list[tuple[Chord, Section]]:
    out = []
    for c in chords:
        for s in sections:
            if s.start_beat <= c.start_beat < s.end_beat:
                out.append((c, s))
                break
    return out
