"""The brief's instruments and density as a transformation of the chosen Style (which parts play,
on what General MIDI program, in which sections), and of the arranged Score ("solo piano": the
hands' parts become one piano track, one stem).

    style = adapt_style(load_style(brief.style.name), brief)
    score = finish_score(arrange(lead, style), brief)
"""

from __future__ import annotations

import logging
from dataclasses import replace

from tunesmith.arrange import Style, load_style
from tunesmith.arrange.instruments import instrument_range
from tunesmith.arrange.style import CHORD_PATTERNS, Drums, Hit, Part
from tunesmith.brief.lexicon import INSTRUMENT_BY_NAME
from tunesmith.brief.model import SongBrief
from tunesmith.score import Score, Track

log = logging.getLogger(__name__)

SPARSE_BELOW = 0.36  # density under this: extra parts and drums wait for the chorus
FULL_FROM = 0.72  # density from this: extra parts play in the verses too
_LATER = ("chorus", "bridge", "solo", "outro")
_BASS_PATTERNS = ("bass", "walking")
_KEYBOARD = range(0, 24)
_GUITARS = range(24, 32)
_FALLBACK_LEADS = ("piano", "flute", "acoustic guitar", "vibraphone")


def program_families(program: int) -> set[str]:
    """Instrument names (lexicon names) a General MIDI program counts as."""
    p = program
    table: list[tuple[range, set[str]]] = [
        (range(0, 4), {"piano"}), (range(4, 6), {"electric piano", "piano"}),
        (range(6, 8), {"piano"}), (range(8, 16), {"vibraphone"}), (range(16, 21), {"organ"}),
        (range(21, 22), {"accordion"}), (range(22, 23), {"harmonica"}),
        (range(23, 24), {"accordion"}), (range(24, 26), {"acoustic guitar", "guitar"}),
        (range(26, 32), {"electric guitar", "guitar"}), (range(32, 40), {"bass"}),
        (range(40, 41), {"violin", "strings"}), (range(41, 42), {"strings"}),
        (range(42, 43), {"cello", "strings"}), (range(43, 44), {"bass", "strings"}),
        (range(44, 46), {"strings"}), (range(46, 47), {"harp"}), (range(48, 52), {"strings"}),
        (range(52, 55), {"choir", "voice"}), (range(56, 57), {"trumpet", "brass"}),
        (range(57, 58), {"trombone", "brass"}), (range(58, 59), {"brass"}),
        (range(59, 60), {"trumpet", "brass"}), (range(60, 64), {"brass"}),
        (range(64, 68), {"saxophone"}), (range(68, 71), {"clarinet"}),
        (range(71, 72), {"clarinet"}), (range(72, 80), {"flute"}),
        (range(80, 85), {"synth"}), (range(85, 86), {"voice"}), (range(86, 88), {"synth"}),
        (range(88, 96), {"synth pad", "synth"}), (range(96, 104), {"synth"}),
        (range(105, 106), {"banjo"}), (range(110, 111), {"violin", "strings"}),
    ]
    return next((names for r, names in table if p in r), set())


def part_plays(part: Part, instrument: str) -> bool:
    if instrument == "drums":
        return part.pattern == "drums"
    if part.pattern == "drums":
        return False
    if instrument == "bass":
        return part.pattern in _BASS_PATTERNS or part.role == "bass"
    return instrument in program_families(part.program)


def _steps_per_bar(style: Style) -> int:
    return 4 * style.pattern_beats_per_bar


def _rhythm(*hits: tuple[float, float]) -> tuple[Hit, ...]:
    return tuple(Hit(float(a), float(b)) for a, b in hits)


def _register(program: int, low: int, high: int) -> tuple[int, int]:
    rng = instrument_range(program)
    lo = min(max(low, rng.low), rng.high - 12)
    return lo, max(min(high, rng.high), lo + 12)


def _comp_part(name: str, program: int, style: Style, *, sparse: bool,
               sections: tuple[str, ...]) -> Part:
    """A chord part for an instrument the style does not have: arpeggios when sparse,
    strums on guitars, block chords on keyboards, sustained chords for pads."""
    inst = INSTRUMENT_BY_NAME.get(name)
    steps = _steps_per_bar(style)
    if inst is not None and inst.pad:
        pattern, rhythm = "pad", _rhythm((0, steps))
    elif sparse or program in (46,):  # harp
        pattern, rhythm = "arpeggio", _rhythm(*((s, 2) for s in range(0, steps, 2)))
    elif program in _GUITARS or program in (105,):
        pattern, rhythm = "strum", _rhythm(*((s, 2) for s in range(0, steps, 2)))
    else:
        pattern, rhythm = "block", _rhythm(*((s, 4) for s in range(0, steps, 4)))
    low, high = _register(program, 50, 74)
    return Part(name=name.replace(" ", "-"), role=_role(program), program=program,
                instrument=name.title(), pattern=pattern, sections=sections, low=low, high=high,
                velocity=66 if pattern == "pad" else 72, pan=-0.25,
                rhythm={"default": rhythm}, arpeggio=(0, 1, 2, 3, 2, 1), max_notes=4)


def _role(program: int) -> str:
    if program in _GUITARS:
        return "guitar"
    if program in _KEYBOARD:
        return "keys"
    if 40 <= program < 52:
        return "strings"
    if 56 <= program < 64:
        return "brass"
    if 88 <= program < 96 or 52 <= program < 55:
        return "pad"
    return "keys"


def _bass_part(program: int, style: Style, name: str = "bass") -> Part:
    steps = _steps_per_bar(style)
    low, high = _register(program, 31, 52)
    return Part(name=name, role="bass", program=program, instrument="Bass", pattern="bass",
                sections=("verse", "prechorus", "chorus", "bridge", "solo", "outro"),
                low=low, high=high, velocity=86,
                rhythm={"default": _rhythm((0, steps // 2), (steps // 2, steps // 2))},
                tones={"default": ("R", "5")})


def _with_melody_program(part: Part, program: int, name: str) -> Part:
    rng = instrument_range(program)
    return replace(part, program=program, instrument=name.title(), low=rng.low, high=rng.high)


def _borrow_drums(style: Style) -> Style | None:
    """A drum kit for a style that has none: a groove from a style in the same meter."""
    donor = "waltz" if style.pattern_beats_per_bar == 3 else "pop"
    try:
        other = load_style(donor)
    except Exception:  # noqa: BLE001 - a missing donor only means no drums
        return None
    if other.drums is None or other.pattern_beats_per_bar != style.pattern_beats_per_bar:
        return None
    return other


def _solo_parts(style: Style, brief: SongBrief, solo: str) -> tuple[Part, ...]:
    """One instrument plays everything: the melody, chords and (if it can) a bass line."""
    inst = INSTRUMENT_BY_NAME[solo]
    program = inst.program
    melody = next((p for p in style.parts if p.pattern == "melody"), None)
    rng = instrument_range(program)
    lead = Part(name="melody", role="melody", program=program, instrument=inst.name.title(),
                pattern="melody", sections=("verse", "prechorus", "chorus", "bridge", "solo",
                                            "outro"),
                low=max(rng.low, 55), high=rng.high, velocity=92,
                octave=melody.octave if melody else 0)
    parts = [lead]
    if inst.can_comp:
        sparse = brief.density < 0.5
        comp = _comp_part(inst.name, program, style, sparse=sparse,
                          sections=("intro", "verse", "prechorus", "chorus", "bridge", "solo",
                                    "outro"))
        low, high = _register(program, 48, 67)
        parts.append(replace(comp, name="accompaniment", role=lead.role, low=low, high=high,
                             velocity=62))
        if rng.low <= 43:
            bass = _bass_part(program, style, name="left-hand")
            parts.append(replace(bass, low=max(rng.low, 36), high=max(rng.low, 36) + 16,
                                 velocity=70, sections=comp.sections))
    return tuple(parts)


def adapt_style(style: Style, brief: SongBrief) -> Style:
    """`style` with the brief's instruments (wanted, unwanted, solo) and density applied."""
    if brief.solo is not None:
        parts = _solo_parts(style, brief, brief.solo)
        log.info("solo %s: %d parts, one stem", brief.solo, len(parts))
        return replace(style, parts=parts, drums=None)
    parts = list(style.parts)
    drums = style.drums
    unwanted = set(brief.instruments_unwanted)
    replacement_leads = [w for w in brief.instruments_wanted
                         if INSTRUMENT_BY_NAME.get(w) and INSTRUMENT_BY_NAME[w].can_lead
                         and w not in unwanted]
    replacement_leads += [w for w in _FALLBACK_LEADS if w not in unwanted]
    kept: list[Part] = []
    for part in parts:
        hit = [u for u in unwanted if part_plays(part, u)]
        if not hit:
            kept.append(part)
        elif part.pattern == "melody":
            # The tune must be played by something: the first wanted lead, else a plain one.
            name = replacement_leads[0]
            kept.append(_with_melody_program(part, INSTRUMENT_BY_NAME[name].program, name))
        else:
            log.info("dropping %s (%s not wanted)", part.name, ", ".join(hit))
    parts = kept
    if "drums" in unwanted:
        drums = None
    lead_taken = False
    lead = INSTRUMENT_BY_NAME.get(brief.lead) if brief.lead else None
    melody_i = next((i for i, p in enumerate(parts) if p.pattern == "melody"), None)
    if lead is not None and lead.can_lead and melody_i is not None:
        # "a piano ballad": the piano plays the tune too, even where it already comps
        parts[melody_i] = _with_melody_program(parts[melody_i], lead.program, lead.name)
        lead_taken = True
    for want in brief.instruments_wanted:
        inst = INSTRUMENT_BY_NAME.get(want)
        if inst is None or any(part_plays(p, want) for p in parts):
            continue
        if want == "drums":
            donor = _borrow_drums(style)
            if donor is not None and donor.drums is not None:
                drums = donor.drums
                parts.append(next(p for p in donor.parts if p.pattern == "drums"))
            continue
        if want == "bass":
            parts.append(_bass_part(33, style))
            continue
        melody_i = next((i for i, p in enumerate(parts) if p.pattern == "melody"), None)
        if inst.can_lead and not inst.pad and not lead_taken and melody_i is not None \
                and (not inst.can_comp or want in ("saxophone", "trumpet", "flute", "violin")):
            parts[melody_i] = _with_melody_program(parts[melody_i], inst.program, inst.name)
            lead_taken = True
            continue
        if inst.can_comp or inst.pad:
            sections = ("verse", "prechorus", "chorus", "bridge", "solo", "outro") \
                if not inst.pad else ("prechorus", "chorus", "bridge", "outro")
            part = _comp_part(want, inst.program, style, sparse=brief.density < SPARSE_BELOW,
                              sections=sections)
            names = {p.name for p in parts}
            while part.name in names:
                part = replace(part, name=part.name + "-2")
            parts.append(part)
        elif melody_i is not None and not lead_taken:
            parts[melody_i] = _with_melody_program(parts[melody_i], inst.program, inst.name)
            lead_taken = True
    parts, drums = _apply_density(parts, drums, brief.density)
    if drums is None:
        parts = [p for p in parts if p.pattern != "drums"]
    return replace(style, parts=tuple(parts), drums=drums)


def _apply_density(parts: list[Part], drums: Drums | None, density: float,
                   ) -> tuple[list[Part], Drums | None]:
    """Sparse: parts beyond melody, bass and the first chord part, and the drums, wait for the
    chorus. Full: extra parts join in the verses too."""
    first_comp = next((i for i, p in enumerate(parts) if p.pattern in CHORD_PATTERNS), None)
    out = []
    for i, p in enumerate(parts):
        extra = p.pattern in CHORD_PATTERNS and i != first_comp
        if extra and density < SPARSE_BELOW:
            later = tuple(k for k in p.sections if k in _LATER)
            if later:
                p = replace(p, sections=later)
        elif extra and density >= FULL_FROM:
            p = replace(p, sections=tuple(dict.fromkeys((*p.sections, "verse", "chorus"))))
        out.append(p)
    if drums is not None and density < SPARSE_BELOW:
        keep = ("chorus", "bridge", "solo") if density < 0.25 else _LATER
        drums = replace(drums, sections={k: v for k, v in drums.sections.items() if k in keep})
    return out, drums


def finish_score(score: Score, brief: SongBrief) -> Score:
    """After arranging: a solo instrument's parts become one track (one stem, one MIDI track)."""
    if brief.solo is None:
        return score
    pitched = [t for t in score.tracks if not t.is_drum]
    if not pitched:
        return score
    lead = next((t for t in pitched if t.role == "melody"), pitched[0])
    notes = sorted((n for t in pitched for n in t.notes), key=lambda n: (n.start_beat, n.pitch))
    role = "keys" if lead.program in _KEYBOARD else _role(lead.program)
    merged = Track(name=brief.solo.replace(" ", "-"), program=lead.program, is_drum=False,
                   notes=notes, instrument=lead.instrument, pan=0.0, role=role)
    return replace(score, tracks=[merged])
