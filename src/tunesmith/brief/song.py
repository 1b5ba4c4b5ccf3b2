"""From a SongBrief to a lead sheet and an arrangement plan: a chorus progression for the mood
and style, a hook written over it, the whole song composed around the hook by
`tunesmith.compose`, then the brief's structure hints and dynamics applied to the lead sheet.
Arrange, render and produce are shared with `hum` (see `pipeline.song_from_brief`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tunesmith.arrange import Style, load_style
from tunesmith.brief.hook import WrittenHook, write_hook
from tunesmith.brief.model import SongBrief
from tunesmith.brief.orchestra import adapt_style, finish_score
from tunesmith.brief.progression import chorus_progression
from tunesmith.compose.variety import colour_section
from tunesmith.config import DEFAULT_LENGTH_S
from tunesmith.score import Chord, Score, Section, Track

log = logging.getLogger(__name__)

LONG_HOOK_FROM_BPM = 118.0  # at this tempo and above, the hook takes 8 bars (else 4)
QUIET_ENDING_ENERGY = 0.2
_LOOP_COLOUR_STREAM = 11  # seeds the chorus loop's second statement apart from the hook's draws


@dataclass(slots=True)
class BriefSong:
    """What the brief became before arranging: the style as adapted, the lead sheet, the hook
    and its progression, and what song.json records about them."""

    brief: SongBrief
    style: Style
    lead: Score
    hook: WrittenHook
    progression: list[Chord]
    length_s: float
    info: dict[str, Any] = field(default_factory=dict)

    def finish(self, score: Score) -> Score:
        """After arranging: the brief's last word on the tracks (a solo instrument: one track)."""
        return finish_score(score, self.brief)


def hook_bars(brief: SongBrief) -> int:
    return 8 if brief.tempo_bpm * 4 / brief.beats_per_bar >= LONG_HOOK_FROM_BPM else 4


def lead_sheet_from_brief(brief: SongBrief, *, length_s: float | None = None,
                          seed: int = 0) -> BriefSong:
    """Brief -> lead sheet in the brief's key, tempo and meter, with a hook written from words."""
    from tunesmith.compose import compose
    from tunesmith.compose.form import DEFAULT_FORM

    style = adapt_style(load_style(brief.style.name), brief)
    key = brief.song_key
    bpb, compound = brief.beats_per_bar, brief.compound
    bars = hook_bars(brief)
    progression = chorus_progression(key=key, flavour=brief.harmony, valence=brief.mood.valence,
                                     arousal=brief.mood.arousal, bars=bars, beats_per_bar=bpb,
                                     seed=seed)
    hook = write_hook(progression, key=key, beats_per_bar=bpb, compound=compound,
                      valence=brief.mood.valence, arousal=brief.mood.arousal,
                      density=brief.density, tempo_bpm=brief.tempo_bpm, seed=seed)
    length = length_s or brief.length_s or DEFAULT_LENGTH_S
    form = style.form or DEFAULT_FORM
    lead = compose(list(hook.notes), key=key, tempo_bpm=brief.tempo_bpm, beats_per_bar=bpb,
                   compound=compound, length_s=length, seed=seed, form=form,
                   harmony=brief.harmony, mood=float(np.clip(brief.mood.valence, -1.0, 1.0)))
    varied = None if brief.harmony == "simple" else colour_section(
        progression, hook.notes, key=key,
        rng=np.random.default_rng([_LOOP_COLOUR_STREAM, seed & 0xFFFFFFFF]))
    lead = keep_hook_harmony(lead, hook, progression, varied=varied)
    lead = shape_lead(lead, brief)
    flats = key.uses_flats
    info = {
        "prompt": brief.prompt,
        "brief": brief.to_dict(),
        "hook": {"bars": hook.bars, "notes": len(hook.notes),
                 "progression": [c.chord.symbol(flats=flats) for c in progression],
                 "rule_score": hook.score.rules, "model_log_likelihood": hook.score.model,
                 "longest_run_shared_with_training_song": hook.score.copied_notes},
        "parts": [p.name for p in style.parts],
    }
    return BriefSong(brief, style, lead, hook, progression, length, info)


# ---------------------------------------------------------------- the chorus keeps its chords

HOOK_MATCH_SHARE = 0.8  # a span sings the hook when this share of its notes are the hook's


def keep_hook_harmony(lead: Score, hook: WrittenHook, progression: list[Chord], *,
                      varied: list[Chord] | None = None) -> Score:
    """Wherever the lead sheet sings the hook, put back the progression it was written over
    (compose harmonises the whole song; the chorus keeps the chords chosen for the mood and
    style). Other sections keep compose's harmony. `varied`, when given, is the progression
    with pop colour (`compose.variety`: a sus4, a secondary dominant...) that the hook's second
    statement in each chorus takes: a loop sung twice over the very same chords is plainer than
    real pop choruses, which colour the repeat."""
    bpb = lead.beats_per_bar
    period = hook.bars * bpb
    want = {(round(n.start_beat, 3), n.pitch % 12) for n in hook.notes}
    melody = next((t for t in lead.tracks if t.role == "melody"), None)
    if melody is None or not want:
        return lead
    spans = []
    repeats = set()  # spans that are a chorus's second (fourth...) statement of the hook
    for sec in lead.sections:
        if sec.kind != "chorus":
            continue
        start = sec.start_beat
        k = 0
        while start + period <= sec.end_beat + 1e-6:
            sung = {(round(n.start_beat - start, 3), n.pitch % 12) for n in melody.notes
                    if start - 1e-6 <= n.start_beat < start + period - 1e-6}
            if len(sung & want) >= HOOK_MATCH_SHARE * len(want):
                spans.append(start)
                if k % 2 == 1:
                    repeats.add(start)
            start += period
            k += 1
    if not spans:
        return lead
    chords: list[Chord] = []
    for c in lead.chords:  # cut compose's chords out of the hook's spans
        pieces = [(c.start_beat, c.end_beat)]
        for a in spans:
            b = a + period
            pieces = [seg for lo, hi in pieces
                      for seg in ((lo, min(hi, a)), (max(lo, b), hi)) if seg[1] - seg[0] > 1e-6]
        chords += [Chord(lo, hi - lo, c.chord) for lo, hi in pieces]
    chords += [replace(c, start_beat=c.start_beat + a) for a in spans
               for c in (varied if varied is not None and a in repeats else progression)]
    log.info("chorus harmony: the hook's progression in %d spans", len(spans))
    return replace(lead, chords=sorted(chords, key=lambda c: c.start_beat))


# ---------------------------------------------------------------- structure and dynamics

def shape_lead(lead: Score, brief: SongBrief) -> Score:
    """Structure hints and the mood's energy on the lead sheet's sections."""
    if "long intro" in brief.structure:
        lead = _resize_intro(lead, factor=2.0)
    elif "short intro" in brief.structure:
        lead = _resize_intro(lead, factor=0.5)
    scale = 0.85 + 0.15 * (brief.mood.arousal + 1.0)  # calm 0.85 .. excited 1.15
    sections = [replace(s, energy=round(float(np.clip(s.energy * scale, 0.1, 1.0)), 3))
                for s in lead.sections]
    if "big final chorus" in brief.structure:
        sections = _build_to_final_chorus(sections)
    if "quiet ending" in brief.structure and sections and sections[-1].kind == "outro":
        sections[-1] = replace(sections[-1], energy=QUIET_ENDING_ENERGY)
    return replace(lead, sections=sections)


def _build_to_final_chorus(sections: list[Section]) -> list[Section]:
    """Energy rises section by section to a final chorus at full energy; earlier choruses hold
    something back."""
    last = max((i for i, s in enumerate(sections) if s.kind == "chorus"), default=None)
    if last is None:
        return sections
    out = []
    for i, s in enumerate(sections):
        if i == last:
            out.append(replace(s, energy=1.0))
        elif i < last:
            ramp = 0.3 + 0.5 * i / max(last, 1)
            out.append(replace(s, energy=round(min(s.energy, ramp + 0.1), 3)))
        else:
            out.append(s)
    return out


def _resize_intro(lead: Score, *, factor: float) -> Score:
    """Lengthen (repeating its chords) or shorten the intro; everything after it moves."""
    if not lead.sections or lead.sections[0].kind != "intro":
        return lead
    intro = lead.sections[0]
    bpb = lead.beats_per_bar
    old_bars = int(round(intro.duration_beats / bpb))
    new_bars = max(1, int(round(old_bars * factor)))
    if new_bars == old_bars:
        return lead
    delta = (new_bars - old_bars) * bpb
    intro_chords = [c for c in lead.chords if c.start_beat < intro.end_beat - 1e-6]
    later = [replace(c, start_beat=c.start_beat + delta) for c in lead.chords
             if c.start_beat >= intro.end_beat - 1e-6]
    new_len = new_bars * bpb
    chords: list[Chord] = []
    if intro_chords:
        period = intro.duration_beats
        k = 0
        # The intro's harmony, repeated (longer) or its last bars (shorter), ending where it did.
        offset = new_len - period * int(np.ceil(new_len / period))
        while offset + k * period < new_len:
            for c in intro_chords:
                start = offset + k * period + (c.start_beat - intro.start_beat)
                end = min(start + c.duration_beats, new_len)
                start = max(start, 0.0)
                if end > start + 1e-6:
                    chords.append(Chord(intro.start_beat + start, end - start, c.chord))
            k += 1
    sections = [replace(intro, duration_beats=float(new_len))]
    sections += [replace(s, start_beat=s.start_beat + delta) for s in lead.sections[1:]]
    tracks = [Track(name=t.name, program=t.program, is_drum=t.is_drum, instrument=t.instrument,
                    pan=t.pan, role=t.role,
                    notes=[n.shifted(delta) for n in t.notes if n.start_beat + delta >= 0])
              for t in lead.tracks]
    return replace(lead, sections=sections, chords=chords + later, tracks=tracks)


