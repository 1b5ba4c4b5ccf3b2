"""compose: a hummed phrase becomes a lead sheet (melody, chords, song form).

Pure entry point: `compose(melody, key=..., tempo_bpm=..., ...) -> Score` holding one `melody`
track, the chord symbols and the sections.

The form comes from `forms.toml` (pop, AABA, 12-bar blues; fitted to the length). Every chorus
keeps the hum verbatim; verse, pre-chorus, bridge and solo are new lines written by the melody
model (`writer.py`) from the hum's motifs, over chords the harmoniser chose for them, checked
against the training songs by the originality guard.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tunesmith.compose.form import DEFAULT_FORM, FormSection, SongForm, load_form, plan_form
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
from tunesmith.compose.melody_model import MelodyModel
from tunesmith.compose.meter import Meter
from tunesmith.compose.originality import NGRAM_NOTES, OriginalityIndex
from tunesmith.compose.variety import colour_section
from tunesmith.compose.writer import SectionWriter, answer_plan, plan_section, provisional_melody
from tunesmith.config import DEFAULT_LENGTH_S
from tunesmith.errors import TunesmithError
from tunesmith.score import Chord, Note, Score, Section, Track
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MIN_LENGTH_S = 20.0
MAX_LENGTH_S = 900.0
WRITERS = ("model", "rules")
_GENERATED = ("verse", "prechorus", "bridge", "solo")
_COLOUR_STREAM = 7  # seeds the harmonic colour apart from the section's melody draws

__all__ = ["DEFAULT_FORM", "DEFAULT_LENGTH_S", "WRITERS", "ComposeError", "compose",
           "melody_originality", "transpose_to_key"]


class ComposeError(TunesmithError):
    """The melody or the requested form cannot be composed."""


_RULE_WRITERS = {"verse": verse_melody, "prechorus": prechorus_melody, "bridge": bridge_melody,
                 "solo": verse_melody}


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


@dataclass(slots=True)
class _Material:
    """A section's melody and chords, in beats from its start (reused when a part repeats)."""

    notes: list[Note]
    chords: list[Chord]


@dataclass(slots=True)
class _Song:
    """What every section of one song shares while it is being written."""

    hook: Hook
    key: Key
    meter: Meter
    form: SongForm
    seed: int
    writer: str
    harmony_options: dict[str, Any]
    section_writer: SectionWriter | None = None

    def harmonize(self, notes: Sequence[Note], *, bars: int, seed: int, open_ending: bool = False,
                  start_on_tonic: bool = True) -> list[Chord]:
        return harmonize(notes, key=self.key, start_beat=0.0, n_bars=bars,
                         beats_per_bar=self.meter.beats_per_bar, open_ending=open_ending,
                         start_on_tonic=start_on_tonic, seed=seed, **self.harmony_options)

    def colour(self, chords: list[Chord], notes: Sequence[Note], index: int) -> list[Chord]:
        """The section's chords with pop songwriters' devices (`variety.py`): suspensions,
        secondary dominants, borrowed chords. The harmoniser alone picks plain diatonic triads
        a few bars at a time; "simple" harmony asks for exactly that, so it is left alone."""
        if self.harmony_options.get("harmony") == "simple":
            return chords
        # index -1 (the chorus) and up, seed masked: SeedSequence takes non-negative entropy only
        rng = np.random.default_rng([_COLOUR_STREAM, index + 1, self.seed & 0xFFFFFFFF])
        return colour_section(chords, notes, key=self.key, rng=rng)


def compose(melody: Sequence[Note], *, key: Key, tempo_bpm: float, beats_per_bar: int = 4,
            compound: bool = False, length_s: float = DEFAULT_LENGTH_S, seed: int = 0,
            form: str = DEFAULT_FORM, writer: str = "model", harmony: str | None = None,
            mood: float | None = None) -> Score:
    """Build a whole song's lead sheet around a hummed phrase (every chorus keeps it verbatim).

    `beats_per_bar`/`compound` give the hum's meter (6/8 is 3 quarter-note beats, compound);
    `form` names a form of `forms.toml`; `writer` is "model" (the learned melody model) or
    "rules" (the earlier rule-based variations, kept as a baseline); `harmony` and `mood` pass
    to the harmoniser. Same inputs and seed, same song."""
    if not melody:
        raise ComposeError("there is no melody to compose from")
    if not MIN_LENGTH_S <= length_s <= MAX_LENGTH_S:
        raise ComposeError(f"song length must be between {MIN_LENGTH_S:.0f} s and "
                           f"{MAX_LENGTH_S / 60:.0f} min, not {length_s:.0f} s")
    if writer not in WRITERS:
        raise ComposeError(f"unknown melody writer '{writer}': use {' or '.join(WRITERS)}")
    meter = Meter(beats_per_bar, compound)
    hook = make_hook(melody, beats_per_bar=beats_per_bar, key=key)
    song_form = load_form(form)
    chorus_bars = max(8, hook.bars)
    seconds_per_bar = beats_per_bar * 60.0 / tempo_bpm
    plan = plan_form(chorus_bars=chorus_bars, seconds_per_bar=seconds_per_bar, target_s=length_s,
                     hook_bars=hook.bars, form=song_form)
    log.info("form %s: %s", song_form.name, " ".join(f"{s.label}({s.bars})" for s in plan))
    options: dict[str, Any] = {}
    if harmony is not None:
        options["harmony"] = harmony
    if mood is not None:
        options["mood"] = mood
    song = _Song(hook, key, meter, song_form, seed, writer, options)

    materials: dict[str, _Material] = {}
    sections: list[Section] = []
    notes: list[Note] = []
    chords: list[Chord] = []
    beat = 0.0
    # The chorus first: the other sections are written to continue and answer it.
    order = sorted(range(len(plan)), key=lambda i: (plan[i].kind != "chorus", i))
    for i in order:
        fs = plan[i]
        if fs.kind not in ("intro", "outro"):
            _material(song, fs, i, materials, plan)
    for i, fs in enumerate(plan):
        length = fs.bars * beats_per_bar
        sections.append(Section(fs.kind, fs.label, beat, length, fs.energy))
        if fs.kind == "intro":
            part, part_chords = [], []
        elif fs.kind == "outro":
            part = outro_melody(hook, bars=fs.bars, beats_per_bar=beats_per_bar, key=key)
            part_chords = song.harmonize(part, bars=fs.bars, seed=seed + i) if part else []
        else:
            m = materials[_material_key(fs)]
            part, part_chords = list(m.notes), list(m.chords)
        nxt = plan[i + 1] if i + 1 < len(plan) else None
        if nxt is not None and nxt.kind == "chorus" and hook.pickup:
            # The hum's pickup leads into every chorus: drop what it would overlap.
            pick_start = min(n.start_beat for n in hook.pickup) + length
            part = [n for n in part if n.end_beat <= pick_start + 1e-6]
            part += [n.shifted(length) for n in hook.pickup]
        notes += [n.shifted(beat) for n in part]
        chords += [replace(c, start_beat=c.start_beat + beat) for c in part_chords]
        beat += length
    chords = _fill_instrumental(chords, sections, song)
    melody_track = Track(name="melody", role="melody", notes=remove_overlaps(notes))
    return Score(tempo_bpm=tempo_bpm, key=key, beats_per_bar=beats_per_bar,
                 tracks=[melody_track], chords=chords, sections=sections, compound=compound)


def _material_key(fs: FormSection) -> str:
    # Parts repeat their material (verse 2 sings verse 1's tune); every solo is new.
    return fs.label if fs.kind == "solo" else fs.name


def _material(song: _Song, fs: FormSection, index: int, materials: dict[str, _Material],
              plan: list[FormSection]) -> None:
    key = _material_key(fs)
    if key in materials:
        return
    bpb = song.meter.beats_per_bar
    seed = int(np.random.SeedSequence([song.seed, index]).generate_state(1)[0])
    if fs.kind == "chorus":
        materials[key] = _chorus(song, fs, seed)
        return
    if song.writer == "rules":
        writer = _RULE_WRITERS.get(fs.kind, verse_melody)
        part = writer(song.hook, bars=fs.bars, beats_per_bar=bpb, key=song.key)
        materials[key] = _Material(part, song.harmonize(
            part, bars=fs.bars, seed=song.seed + index, open_ending=fs.kind in ("prechorus", "bridge"),
            start_on_tonic=fs.kind == "verse"))
        return
    rng = np.random.default_rng(seed)
    ending = {"prechorus": "open", "bridge": "open", "verse": "stable"}.get(fs.kind, "closed")
    section_plan = plan_section(fs.kind, song.hook, bars=fs.bars, meter=song.meter, rng=rng,
                                ending=ending)
    source = next((materials[_material_key(p)] for p in plan
                   if fs.chords_of and p.name == fs.chords_of and _material_key(p) in materials),
                  None)
    if source is not None and _bars_of(source, bpb) == fs.bars:
        chords = list(source.chords)
    else:
        provisional = provisional_melody(section_plan, song.key, song.meter)
        chords = song.harmonize(provisional, bars=fs.bars, seed=song.seed + index,
                                open_ending=ending == "open", start_on_tonic=fs.kind == "verse")
        chords = song.colour(chords, provisional, index)
    written = _writer(song, materials).write(section_plan, chords, seed=seed)
    if written.match.found:
        log.warning("%s still shares %d notes with a training song", fs.label, written.match.notes)
    materials[key] = _Material(list(written.notes), chords)


def _bars_of(m: _Material, beats_per_bar: int) -> int:
    end = max((c.end_beat for c in m.chords), default=0.0)
    return int(round(end / beats_per_bar))


def _writer(song: _Song, materials: dict[str, _Material]) -> SectionWriter:
    if song.section_writer is None:
        chorus = next((m for m in materials.values()), None)
        song.section_writer = SectionWriter(
            MelodyModel.load(), OriginalityIndex.load(), song.hook, key=song.key,
            meter=song.meter, chorus_chords=chorus.chords if chorus else [])
    return song.section_writer


def _chorus(song: _Song, fs: FormSection, seed: int) -> _Material:
    """The hum verbatim; in a form with fixed chorus harmony (the blues) the hum takes the first
    lines and the model writes the rest over the form's chords."""
    bpb = song.meter.beats_per_bar
    progression = song.form.progression(song.key, beats_per_bar=bpb)
    if progression is None or _bars_of(_Material([], progression), bpb) != fs.bars:
        part = chorus_melody(song.hook, bars=fs.bars, beats_per_bar=bpb, key=song.key)
        chords = song.harmonize(part, bars=fs.bars, seed=song.seed)
        if song.writer == "model":  # the rules writer stays the earlier baseline
            chords = song.colour(chords, part, -1)
        return _Material(part, chords)
    hum_bars = min(fs.bars, 8 if song.hook.bars >= 8 else 4)
    part = chorus_melody(song.hook, bars=hum_bars, beats_per_bar=bpb, key=song.key) \
        if song.hook.bars < hum_bars else [n for n in song.hook.notes if n.start_beat < hum_bars * bpb]
    if song.writer == "model" and fs.bars > hum_bars:
        materials = {"_": _Material(part, progression)}
        plan = answer_plan(song.hook, start_bar=hum_bars, bars=fs.bars - hum_bars,
                           meter=song.meter)
        written = _writer(song, materials).write(plan, progression, seed=seed)
        part = part + [n for n in written.notes if n.start_beat >= hum_bars * bpb - 1e-6]
    return _Material(part, progression)


def _fill_instrumental(chords: list[Chord], sections: list[Section], song: _Song) -> list[Chord]:
    """Sections with no melody (intro, instrumental outro) borrow the chorus's closing harmony."""
    beats_per_bar = song.meter.beats_per_bar
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
            out += [replace(c, start_beat=c.start_beat + s.start_beat)
                    for c in song.harmonize([], bars=bars, seed=song.seed)]
    return sorted(out, key=lambda c: c.start_beat)


def _chords_by_section(chords: list[Chord], sections: list[Section]) -> list[tuple[Chord, Section]]:
    out = []
    for c in chords:
        for s in sections:
            if s.start_beat <= c.start_beat < s.end_beat:
                out.append((c, s))
                break
    return out


def melody_originality(score: Score, index: OriginalityIndex | None = None) -> dict[str, Any]:
    """For song.json: the longest run of consecutive notes (intervals and inter-onset durations)
    the song's melody shares with a training song, overall and in its generated sections
    (verse, pre-chorus, bridge, solo; the chorus is the user's own hum). 0 means no run of
    `NGRAM_NOTES` or more."""
    melody = next((t for t in score.tracks if t.role == "melody"), None)
    if melody is None or not melody.notes:
        return {}
    index = index or OriginalityIndex.load()
    notes = sorted(melody.notes, key=lambda n: n.start_beat)
    match = index.longest_match(notes)
    where = None
    if match.found:
        at = notes[match.start].start_beat
        where = next((s.label for s in score.sections if s.start_beat <= at < s.end_beat), None)
    generated = 0
    for s in score.sections:
        if s.kind in _GENERATED:
            part = [n for n in notes if s.start_beat <= n.start_beat < s.end_beat]
            generated = max(generated, index.longest_match(part).notes)
    return {"longest_training_match_notes": match.notes, "longest_match_section": where,
            "generated_sections_longest_match_notes": generated,
            "limit_notes": NGRAM_NOTES, "training_songs": "POP909 001-800"}
