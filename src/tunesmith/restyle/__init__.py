"""restyle: the same song in another genre.

    file (MIDI / MusicXML / ABC / audio) ──read_source──► SourcePiece
        ──analyze──► Analysis (lead melody, chords per beat, sections, key, tempo, swing)
        ──restyle_lead_sheet──► lead-sheet Score (melody + chords + sections) for a Style
        ──► arrange / render / produce / bundle, shared with `hum` (tunesmith.pipeline)

`--keep melody` writes new chords for the kept melody; `--keep melody+chords` keeps the
song's chords, and `--harmony style` then applies the target style's named harmony rules
(`[restyle] harmony = [...]` in its data file, see `tunesmith.restyle.rules`).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, replace
from typing import Any

from tunesmith.errors import TunesmithError
from tunesmith.restyle.analyze import Analysis, analyze, straighten
from tunesmith.restyle.rules import RULES, apply_rules
from tunesmith.restyle.source import RestyleInputError, SourcePiece, read_source
from tunesmith.score import Chord, Note, Score, Section, Track

log = logging.getLogger(__name__)

__all__ = ["HARMONY_MODES", "KEEP_MODES", "RULES", "Analysis", "RestyleInputError",
           "RestyleOptionError", "RestyledLeadSheet", "analyze", "check_modes", "read_source",
           "restyle_lead_sheet", "style_rules"]

KEEP_MODES = ("melody", "melody+chords")
HARMONY_MODES = ("keep", "style")


class RestyleOptionError(TunesmithError):
    """An unknown --keep or --harmony choice."""


@dataclass
class RestyledLeadSheet:
    lead: Score
    style: Any  # tunesmith.arrange.Style, its extensions cleared under --harmony keep
    analysis: Analysis
    rules: list[str]
    beat_scale: float

    def info(self) -> dict[str, Any]:
        a = self.analysis
        return {
            "lead_part": a.lead_part,
            "lead_ratings": [{"part": r.name, "score": r.score} for r in a.lead_ratings
                             if r.score != float("-inf")],
            "source_tempo_bpm": round(a.tempo_bpm, 2),
            "source_key": a.key.name,
            "source_swing": a.swing,
            "phrases": "".join(a.phrase_labels),
            "harmony_rules": self.rules,
            "beat_scale": self.beat_scale,
        }


def style_rules(style: Any) -> list[str]:
    """The harmony rules a style's data file lists under [restyle] harmony."""
    if style.path is None:
        return []
    data = tomllib.loads(style.path.read_text(encoding="utf-8"))
    names = list(data.get("restyle", {}).get("harmony", []))
    unknown = [n for n in names if n not in RULES]
    if unknown:
        from tunesmith.errors import StyleError

        raise StyleError(f"style {style.name}: unknown restyle harmony rule(s) "
                         f"{', '.join(unknown)}; known: {', '.join(sorted(RULES))}")
    return names


def check_modes(keep: str, harmony: str) -> None:
    """Raise RestyleOptionError for an unknown --keep or --harmony choice."""
    if keep not in KEEP_MODES:
        raise RestyleOptionError(f"--keep must be one of {', '.join(KEEP_MODES)}, not '{keep}'")
    if harmony not in HARMONY_MODES:
        raise RestyleOptionError(f"--harmony must be one of {', '.join(HARMONY_MODES)}, "
                                 f"not '{harmony}'")


def restyle_lead_sheet(piece: SourcePiece, style: Any, *, keep: str = "melody+chords",
                       harmony: str = "style", seed: int = 0,
                       analysis: Analysis | None = None) -> RestyledLeadSheet:
    """A lead sheet of `piece` ready for `arrange(lead, style)` in the target style
    (`analysis`: an `analyze(piece)` already made)."""
    check_modes(keep, harmony)
    found = analysis or analyze(piece)
    bpb = found.beats_per_bar
    melody = straighten(found.melody, swing=found.swing)  # the style swings it again if it swings
    tempo, scale = style.fit_tempo(found.tempo_bpm)
    tempo = float(round(tempo))
    chords = found.chords
    sections = found.sections
    if keep == "melody":
        chords = _new_chords(melody, sections, key=found.key, beats_per_bar=bpb, seed=seed)
    rules: list[str] = []
    if harmony == "style":
        rules = style_rules(style)
        chords = apply_rules(chords, rules, key=found.key, beats_per_bar=bpb, melody=melody)
    else:
        style = replace(style, extensions={})
    if scale != 1.0:
        melody = [Note(n.start_beat * scale, n.duration_beats * scale, n.pitch, n.velocity)
                  for n in melody]
        chords = [Chord(c.start_beat * scale, c.duration_beats * scale, c.chord) for c in chords]
        sections = [Section(s.kind, s.label, s.start_beat * scale, s.duration_beats * scale,
                            s.energy) for s in sections]
    lead = Score(tempo_bpm=tempo, key=found.key, beats_per_bar=bpb,
                 tracks=[Track(name="melody", role="melody", notes=melody)],
                 chords=chords, sections=sections)
    log.info("restyle: lead '%s', %s, %.0f -> %.0f bpm, %d chords, form %s", found.lead_part,
             found.key.name, found.tempo_bpm, tempo, len(chords),
             " ".join(s.label for s in sections))
    return RestyledLeadSheet(lead=lead, style=style, analysis=found, rules=rules, beat_scale=scale)


def _new_chords(melody: list[Note], sections: list[Section], *, key: Any, beats_per_bar: int,
                seed: int) -> list[Chord]:
    """Harmonise the kept melody section by section with the composer's harmoniser."""
    from tunesmith.compose.harmony import harmonize

    out: list[Chord] = []
    for i, s in enumerate(sections):
        part = [n for n in melody if s.start_beat <= n.start_beat < s.end_beat]
        bars = max(1, int(round(s.duration_beats / beats_per_bar)))
        out += harmonize(part, key=key, start_beat=s.start_beat, n_bars=bars,
                         beats_per_bar=beats_per_bar,
                         open_ending=s.kind in ("prechorus", "bridge"),
                         start_on_tonic=s.kind in ("chorus", "verse", "outro"), seed=seed + i)
    return out
