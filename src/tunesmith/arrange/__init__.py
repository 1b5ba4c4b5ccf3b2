"""arrange: a style turns a lead sheet (melody, chords, sections) into a multi-track Score.

    score = arrange(lead, load_style("jazz-swing"), seed=0)

A style is a TOML data file (`arrange/styles/*.toml`, format in docs/styles.md); the code here is
shared by every style: chord patterns and voice leading (`patterns`), bass lines (`bass`), drums
(`drums`), four-part harmony (`fourpart`), swing and humanisation (`feel`), meters (`meter`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from tunesmith.arrange.bass import bass_part
from tunesmith.arrange.describe import describe_style
from tunesmith.arrange.feel import apply_swing, humanize
from tunesmith.arrange.fourpart import FourPartPlan, plan_four_part, satb_notes
from tunesmith.arrange.instruments import DRUM_NOTES, instrument_range
from tunesmith.arrange.melody import melody_notes
from tunesmith.arrange.meter import remeter_melody
from tunesmith.arrange.patterns import Context, chord_part
from tunesmith.arrange.style import Part, Style, load_style, style_names
from tunesmith.score import Chord, Note, Score, Track
from tunesmith.theory import ChordSymbol, Key

log = logging.getLogger(__name__)

__all__ = ["Style", "apply_swing", "arrange", "colour_chords", "describe_style", "load_style",
           "remeter_melody", "style_names"]

_DOMINANTS = {"V", "V/V"}
_NUMERALS = ("I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII")


def roman_numeral(chord: ChordSymbol, key: Key) -> str:
    """The chord's roman numeral in `key`, named as compose names them: case for the triad's
    quality (ii, vi, i, iv), ° for diminished, + for augmented, V/V for the major II in a major key,
    flats for chords on lowered degrees (bIII, bVI, bVII)."""
    step = (chord.root - key.tonic) % 12
    triad = chord.triad_quality
    if key.mode == "major" and step == 2 and triad == "maj":
        return "V/V"
    numeral = _NUMERALS[step]
    if triad in ("min", "dim"):
        numeral = numeral.lower()
    return numeral + {"dim": "°", "aug": "+"}.get(triad, "")
STRUM_WINDOW_S = 0.07  # onsets this close to a chord's first note belong to the same stroke


def colour_chords(chords: list[Chord], *, key: Key, extensions: dict[str, str]) -> list[Chord]:
    """Extend triads the way the style does (e.g. jazz: I->maj7, ii->m7, V->7)."""
    if not extensions:
        return list(chords)
    out = []
    for c in chords:
        roman = roman_numeral(c.chord, key)
        q = extensions.get(roman)
        if q is None and roman in _DOMINANTS:
            q = extensions.get("dom")
        if q is None:
            q = extensions.get(c.chord.quality)
        if q and roman not in _DOMINANTS and not _adds_key_tones(c.chord, q, key):
            # A chord from outside the key (a secondary dominant, a borrowed or dorian chord):
            # the style's colour for its numeral or quality would add a tone that is in neither
            # (E as V/vi in C made Emaj7, its D# against the key's D). A major triad takes the
            # dominant colour when that stays in the key (E7); else it stays a triad.
            q = extensions.get("dom") if c.chord.triad_quality == "maj" else None
            if q and not _adds_key_tones(c.chord, q, key):
                q = None
        out.append(replace(c, chord=ChordSymbol(c.chord.root, q, c.chord.bass)) if q else c)
    return out


def _adds_key_tones(chord: ChordSymbol, quality: str, key: Key) -> bool:
    """Whether `chord` extended to `quality` adds only tones of `key`'s scale."""
    added = set(ChordSymbol(chord.root, quality).pitch_classes) - set(chord.pitch_classes)
    return added <= set(key.scale)


def _part_notes(part: Part, lead: Score, ctx: Context, rng: np.random.Generator,
                plan: FourPartPlan | None) -> list[Note]:
    if part.pattern == "melody":
        return melody_notes(part, lead)
    if part.pattern == "drums":
        from tunesmith.arrange.drums import drum_part

        drums = ctx.style.drums
        return drum_part(drums, lead.sections, ctx) if drums is not None else []
    notes: list[Note] = []
    voicing: list[int] | None = None
    bass_prev: int | None = None
    for sec in lead.sections:
        if sec.kind not in part.sections:
            voicing = None
            continue
        if part.pattern in ("bass", "walking"):
            sec_notes, bass_prev = bass_part(part, sec, ctx, rng, bass_prev)
        elif part.pattern == "satb" and plan is not None:
            sec_notes = satb_notes(part, sec, ctx, plan)
        else:
            sec_notes, voicing = chord_part(part, sec, ctx, voicing)
        notes += sec_notes
    return notes


def _check_ranges(part: Part, notes: list[Note]) -> list[Note]:
    """Instrument ranges are a hard limit: a stray note (an approach tone below a low root, an
    arpeggio's octave above a high voicing) moves by octaves into what the instrument plays."""
    if part.pattern == "drums":
        return notes
    rng = instrument_range(part.program)
    out = []
    for n in notes:
        p = n.pitch
        while p < rng.low:
            p += 12
        while p > rng.high:
            p -= 12
        out.append(n if p == n.pitch else replace(n, pitch=p))
    return out


def arrange(lead: Score, style: Style, *, seed: int = 0) -> Score:
    """Arrange `lead` (a lead sheet from compose) in `style`. Deterministic for a seed."""
    chords = colour_chords(lead.chords, key=lead.key, extensions=style.extensions)
    ctx = Context(chords=chords, sections=lead.sections, beats_per_bar=lead.beats_per_bar,
                  song_end=max(s.end_beat for s in lead.sections), key=lead.key, style=style,
                  tempo_bpm=lead.tempo_bpm, compound=lead.compound)
    if style.beats_per_bar and style.beats_per_bar != lead.beats_per_bar:
        log.warning("style %s is written in %d beats per bar; the lead sheet has %d: patterns are "
                    "adapted beat by beat", style.name, style.beats_per_bar, lead.beats_per_bar)
    satb = {p.voice: p for p in style.parts if p.pattern == "satb"}
    plan = None
    if satb:
        soprano = satb.get("soprano")
        mel = melody_notes(soprano, lead) if soprano is not None and soprano.lead else []
        plan = plan_four_part(satb, lead.sections, ctx, mel)
    feel = {DRUM_NOTES[d]: ms for d, ms in style.drums.feel_ms.items()} if style.drums else {}
    # A compound meter already puts every off-beat on the triplet: no swing on top of it.
    swing = 0.5 if lead.compound else style.swing
    tracks: list[Track] = []
    for index, part in enumerate(style.parts):
        rng = np.random.default_rng([seed, index])
        notes = _check_ranges(part, _part_notes(part, lead, ctx, rng, plan))
        notes = apply_swing(sorted(notes, key=lambda n: (n.start_beat, n.pitch)),
                            ratio=swing, unit=style.swing_unit)
        is_drum = part.pattern == "drums"
        timing = style.humanize_ms * (0.5 if part.role == "melody" else 1.0)
        # Notes struck together move together: a chord and its strum; drums hit on one step.
        window = 0.0 if is_drum else STRUM_WINDOW_S * lead.tempo_bpm / 60.0
        notes = humanize(notes, tempo_bpm=lead.tempo_bpm, timing_ms=timing,
                         velocity_sd=style.humanize_velocity, rng=rng,
                         offsets_ms=feel if is_drum else None, strum_window_beats=window)
        program = style.drums.kit if is_drum and style.drums else part.program
        tracks.append(Track(name=part.name, program=program, is_drum=is_drum, notes=notes,
                            instrument=part.instrument, pan=part.pan, role=part.role))
    log.info("arranged %d tracks in style %s", len(tracks), style.name)
    return Score(tempo_bpm=lead.tempo_bpm, key=lead.key, beats_per_bar=lead.beats_per_bar,
                 tracks=tracks, chords=chords, sections=list(lead.sections), swing=swing,
                 compound=lead.compound)
