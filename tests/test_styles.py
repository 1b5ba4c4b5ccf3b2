"""Every style, played: a small hand-made lead sheet (no compose, so these tests only exercise
arrange and render) arranged in each style and, for the audio checks, rendered with the SoundFont.

Audio checks (one render per style, 8 bars): the drum stem's onsets against the style's groove,
the swing ratio measured from those onsets, every instrument sounding. Score checks: ranges,
style-specific patterns (walking bass, power chords, rootless voicings, skank, boom-chick, bossa
thumb, oom-pah-pah), four-part writing without parallels, voice leading, humanisation without
drift, 3/4 and 6-beat bars, and that no two styles arrange the same lead sheet alike."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_soundfont

from tunesmith.arrange import arrange, describe_style, load_style, remeter_melody, style_names
from tunesmith.arrange.instruments import DRUM_NOTES, instrument_range
from tunesmith.arrange.meter import fit_drum_row
from tunesmith.arrange.style import DRUM_VELOCITY, parse_style
from tunesmith.errors import StyleError
from tunesmith.score import Chord, Note, Score, Section, Track
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol, Key

STYLES = style_names()
ISSUE_STYLES = {
    "pop-ballad", "pop", "rock", "grunge", "metal", "punk", "jazz-swing", "jazz-ballad",
    "bossa-nova", "funk", "soul-rnb", "reggae", "country", "folk", "lofi-hip-hop", "hip-hop-trap",
    "edm-house", "synthwave", "cinematic-orchestral", "string-quartet", "gospel", "waltz",
}
SR = 22050
PROGRESSION = ["C", "Am", "F", "G7", "C", "Em", "Dm7", "G7"]


def lead_sheet(*, beats_per_bar: int = 4, tempo_bpm: float = 100.0, bars: tuple[int, int] = (4, 4),
               progression: list[str] | None = None, seed: int = 0) -> Score:
    """Verse then chorus, one chord a bar (two in the chorus's second and fourth bars), a melody
    of chord tones and passing notes in quarters and halves."""
    rng = np.random.default_rng(seed)
    prog = progression or PROGRESSION
    bpb = beats_per_bar
    sections = [Section("verse", "Verse", 0.0, bars[0] * bpb, 0.45),
                Section("chorus", "Chorus", bars[0] * bpb, bars[1] * bpb, 0.85)]
    chords: list[Chord] = []
    melody: list[Note] = []
    for b in range(sum(bars)):
        sym = ChordSymbol.parse(prog[b % len(prog)])
        start = float(b * bpb)
        if b >= bars[0] and b % 2 == 1 and bpb % 2 == 0:
            chords.append(Chord(start, bpb / 2, sym))
            chords.append(Chord(start + bpb / 2, bpb / 2, ChordSymbol.parse(prog[(b + 3) % len(prog)])))
        else:
            chords.append(Chord(start, float(bpb), sym))
        t = start
        while t < start + bpb - 1e-9:
            pcs = chords[-1 if t >= chords[-1].start_beat else -2].chord.pitch_classes
            pitch = 60 + (int(rng.choice(pcs)) - 60) % 12
            dur = float(rng.choice([1.0, 2.0])) if t + 2 <= start + bpb else 1.0
            melody.append(Note(t, dur, pitch + (12 if pitch < 62 else 0), 90))
            t += dur
    return Score(tempo_bpm=tempo_bpm, key=Key(0), beats_per_bar=bpb,
                 tracks=[Track("melody", 73, notes=melody, role="melody")], chords=chords,
                 sections=sections)


def _lead_for(style):
    return lead_sheet(beats_per_bar=style.beats_per_bar or 4, tempo_bpm=style.default_tempo)


@pytest.fixture(scope="module")
def arranged():
    return {name: (load_style(name), arrange(_lead_for(load_style(name)), load_style(name), seed=0))
            for name in STYLES}


# ---------------------------------------------------------------- the library


def test_the_issue_styles_exist():
    assert set(STYLES) >= ISSUE_STYLES
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in STYLES)


def test_every_part_role_is_a_mix_role():
    from tunesmith.produce.common import ROLES

    for name in STYLES:
        for part in load_style(name).parts:
            assert part.role in ROLES, (name, part.name, part.role)


def test_describe_says_what_the_style_does():
    text = describe_style(load_style("jazz-swing"))
    for words in ("Tenor Sax", "walking bass", "rootless", "110-200 bpm", "triplet swing",
                  "ride", "hat_pedal", "2 4"):
        assert words in text, words
    waltz = describe_style(load_style("waltz"))
    assert "3/4" in waltz and "oom-pah-pah" in waltz


def test_cli_describe():
    from typer.testing import CliRunner

    from tunesmith.cli import app

    res = CliRunner().invoke(app, ["styles", "--describe", "bossa-nova"])
    assert res.exit_code == 0, res.output
    assert "Nylon String Guitar" in res.output and "thumb" in res.output
    bad = CliRunner().invoke(app, ["styles", "--describe", "polka"])
    assert bad.exit_code == 2 and "unknown style" in bad.output


@pytest.mark.parametrize("change, message", [
    ({"drums": {"kit": 0, "grooves": {"a": {"cowbel": "x..."}}}}, "unknown drum 'cowbel'"),
    ({"drums": {"kit": 0, "grooves": {"a": {"kick": "x.x.x"}}}}, "whole beats"),
    ({"drums": {"kit": 3, "grooves": {"a": {"kick": "x..."}}}}, "not a General MIDI drum kit"),
    ({"parts": [{"name": "b", "pattern": "bass", "program": 33, "low": 20, "high": 50}]},
     "outside what it can play"),
    ({"parts": [{"name": "b", "pattern": "bass", "tones": {"default": ["R", "Q"]}}]},
     "unknown bass tone 'Q'"),
    ({"parts": [{"name": "c", "pattern": "strum", "rhythm": {"default": ["0:2:Z"]}}]}, "accent"),
    ({"parts": [{"name": "c", "pattern": "satb"}]}, "voice = soprano"),
    ({"parts": [{"name": "c", "pattern": "block", "sections": ["chorus", "hook"]}]},
     "unknown section kind 'hook'"),
])
def test_malformed_styles_are_explained(change, message):
    data = {"name": "x", "description": "d", "tempo_range": [80, 120],
            "parts": [{"name": "m", "pattern": "melody", "program": 73}]}
    data.update(change)
    with pytest.raises(StyleError, match=message):
        parse_style(data)


def test_a_new_style_is_just_a_data_file(tmp_path):
    path = tmp_path / "polka.toml"
    path.write_text("""
name = "polka"
description = "Oom-pah polka"
tempo_range = [100, 140]
form = "verse-chorus"
[dynamics]
chorus = 1.1
[[parts]]
name = "melody"
pattern = "melody"
program = 21
[[parts]]
name = "tuba"
role = "bass"
pattern = "bass"
program = 58
low = 28
high = 50
[parts.rhythm]
default = ["0:4", "8:4"]
[parts.tones]
default = ["R", "5-"]
[[parts]]
name = "drums"
pattern = "drums"
[drums.sections]
verse = "polka"
chorus = "polka"
[drums.grooves.polka]
kick = "x.......x......."
snare = "....x.......x..."
""", encoding="utf-8")
    style = load_style(str(path))
    assert style.form == "verse-chorus" and style.dynamics["chorus"] == (1.1, 1.1)
    score = arrange(lead_sheet(tempo_bpm=120), style)
    tuba = score.track("tuba").notes
    assert len(tuba) == 2 * 7 + 1  # two a bar, one held note in the last bar
    assert all(28 <= n.pitch <= 50 for n in tuba)
    assert "Oom-pah polka" in describe_style(style)


def test_every_program_and_kit_is_in_the_soundfont():
    fluidsynth = pytest.importorskip("fluidsynth")
    from tunesmith.render import RenderError, find_soundfont

    try:
        sf_path = find_soundfont()
    except RenderError:
        pytest.skip("no GM SoundFont installed")
    synth = fluidsynth.Synth()
    try:
        sfid = synth.sfload(str(sf_path))
        for name in STYLES:
            style = load_style(name)
            for part in style.parts:
                if part.pattern != "drums":
                    assert synth.sfpreset_name(sfid, 0, part.program), (name, part.name)
            if style.drums:
                assert synth.sfpreset_name(sfid, 128, style.drums.kit), (name, style.drums.kit)
    finally:
        synth.delete()


# ---------------------------------------------------------------- score-level properties


@pytest.mark.parametrize("name", STYLES)
def test_ranges_respected(name, arranged):
    style, score = arranged[name]
    for part in style.parts:
        if part.pattern == "drums":
            continue
        notes = score.track(part.name).notes
        assert notes, (name, part.name)
        rng = instrument_range(part.program)
        top = part.high + (12 if part.pattern == "arpeggio" else 0)
        for n in notes:
            assert rng.low <= n.pitch <= rng.high, (name, part.name, n)
            if part.pattern != "melody":
                assert part.low <= n.pitch <= top, (name, part.name, n)


def test_no_two_styles_arrange_alike(arranged):
    def signature(score):
        return {(t.program, t.is_drum, n.pitch, round(n.start_beat * 4)) for t in score.tracks
                if t.role not in ("melody", "lead") for n in t.notes}

    sigs = {name: signature(score) for name, (_s, score) in arranged.items()}
    for a, b in itertools.combinations(sigs, 2):
        jaccard = len(sigs[a] & sigs[b]) / len(sigs[a] | sigs[b])
        assert jaccard < 0.5, (a, b, jaccard)


def test_chorus_louder_and_busier_than_verse(arranged):
    def stats(score, sec):
        ns = [n for t in score.tracks if t.role not in ("melody", "lead") for n in t.notes
              if sec.start_beat <= n.start_beat < sec.end_beat - score.beats_per_bar]
        return len(ns), float(np.mean([n.velocity for n in ns]))

    for name, (_style, score) in arranged.items():
        (nv, vv), (nc, vc) = stats(score, score.sections[0]), stats(score, score.sections[1])
        assert vc > vv + 3 and nc >= nv, (name, nv, nc, vv, vc)


def _onsets_by_chord(track, score):
    out = []
    for c in score.chords:
        ns = [n for n in track.notes if abs(n.start_beat - c.start_beat) < 0.08]
        out.append((c, sorted(n.pitch for n in ns)))
    return out


def test_walking_bass_for_swing(arranged):
    style, score = arranged["jazz-swing"]
    bass = score.track("bass")
    verse = score.sections[0]
    beats = [n for n in bass.notes if n.start_beat < verse.end_beat]
    assert len(beats) == verse.duration_beats  # a note per beat
    for c in score.chords[:-1]:
        first = min(bass.notes, key=lambda n: abs(n.start_beat - c.start_beat))
        assert first.pitch % 12 == c.chord.bass_pc % 12 or first.pitch % 12 in c.chord.pitch_classes
    # the note before each chord change leads into it: a half step, a scale step or its fifth
    led = 0
    changes = [c for c in score.chords[1:] if c.start_beat < score.sections[-1].end_beat - 4]
    for c in changes:
        before = max((n for n in bass.notes if n.start_beat < c.start_beat - 0.5),
                     key=lambda n: n.start_beat)
        d = (before.pitch - c.chord.root) % 12
        led += d in (1, 2, 10, 11, 7, 5)
    assert led / len(changes) > 0.8


def test_root_fifth_bass_for_country(arranged):
    _style, score = arranged["country"]
    verse = score.sections[0]
    notes = [n for n in score.track("bass").notes if n.start_beat < verse.end_beat - 4]
    assert {round(n.start_beat) % 4 for n in notes} == {0, 2}
    below = 0
    for prev, n in itertools.pairwise(notes):
        c = score.chord_at(round(n.start_beat))
        on_three = round(n.start_beat) % 4 == 2
        assert n.pitch % 12 == (c.chord.root + (7 if on_three else 0)) % 12, n
        below += on_three and n.pitch < prev.pitch  # boom-chick: the fifth below the root
    assert below >= len(notes) // 4


def test_syncopated_bass_for_funk(arranged):
    _style, score = arranged["funk"]
    starts = [n.start_beat for n in score.track("bass").notes]
    off_eighths = [s for s in starts if abs(s * 2 - round(s * 2)) > 0.15]
    assert len(off_eighths) / len(starts) > 0.3
    octaves = sum(1 for a, b in itertools.pairwise(score.track("bass").notes)
                  if abs(a.pitch - b.pitch) == 12)
    assert octaves >= 4


@pytest.mark.parametrize("name, part", [("rock", "guitar"), ("grunge", "distortion"),
                                        ("metal", "rhythm"), ("punk", "guitar")])
def test_power_chords(name, part, arranged):
    _style, score = arranged[name]
    for _c, pitches in _onsets_by_chord(score.track(part), score):
        if pitches:
            r = pitches[0]
            assert pitches == [r, r + 7, r + 12] or pitches == [r, r + 6, r + 12], pitches


def test_rootless_jazz_voicings(arranged):
    for name, part in (("jazz-swing", "chords"), ("jazz-ballad", "piano"), ("soul-rnb", "rhodes")):
        _style, score = arranged[name]
        checked = 0
        for c, pitches in _onsets_by_chord(score.track(part), score):
            if len(pitches) >= 3 and len(CHORD_QUALITIES[c.chord.quality]) >= 4:
                assert c.chord.root % 12 not in {p % 12 for p in pitches}, (name, c.symbol, pitches)
                third = (c.chord.root + CHORD_QUALITIES[c.chord.quality][1]) % 12
                assert third in {p % 12 for p in pitches}
                checked += 1
        assert checked >= 4, name


def test_ballad_arpeggios_one_note_at_a_time(arranged):
    _style, score = arranged["pop-ballad"]
    notes = [n for n in score.track("chords").notes if n.start_beat < score.sections[-1].end_beat - 4]
    starts = [round(n.start_beat, 1) for n in notes]
    assert len(set(starts)) == len(starts)
    for c in score.chords[:-2]:
        pcs = {n.pitch % 12 for n in notes if c.start_beat - 0.05 <= n.start_beat < c.end_beat - 0.05}
        assert pcs <= set(c.chord.pitch_classes) and len(pcs) >= 3


def test_reggae_skank_is_off_the_beat(arranged):
    _style, score = arranged["reggae"]
    verse = score.sections[0]
    starts = {round(n.start_beat * 4) / 4 % 4 for n in score.track("skank").notes
              if n.start_beat < verse.end_beat - 4}
    assert starts == {1.0, 3.0}  # beats 2 and 4
    bubble = {round(n.start_beat * 4) / 4 % 1 for n in score.track("bubble").notes
              if n.start_beat < verse.end_beat - 4}
    assert bubble == {0.5}


def test_bossa_guitar_thumb_and_fingers(arranged):
    _style, score = arranged["bossa-nova"]
    guitar = score.track("guitar").notes
    low = [n for n in guitar if n.pitch < 52]
    high_starts = {round(n.start_beat * 4) for n in guitar if n.pitch >= 52
                   and n.start_beat < score.sections[0].end_beat}
    assert all(abs(n.start_beat - round(n.start_beat)) < 0.05 for n in low)  # thumb on beats
    assert {round(n.start_beat) % 4 for n in low} <= {0, 2}
    syncopated = [s for s in high_starts if s % 2]  # fingers on odd sixteenths
    assert len(syncopated) >= 4


def test_waltz_is_in_three(arranged):
    _style, score = arranged["waltz"]
    assert score.beats_per_bar == 3
    end = score.sections[-1].end_beat - 3
    bass = {round(n.start_beat) % 3 for n in score.track("bass").notes if n.start_beat < end}
    piano = {round(n.start_beat) % 3 for n in score.track("piano").notes
             if n.start_beat < score.sections[0].end_beat}
    assert bass <= {0, 2} and 0 in bass and piano == {1, 2}
    kicks = [n for n in next(t for t in score.tracks if t.is_drum).notes if n.pitch == 36]
    assert {round(n.start_beat) % 3 for n in kicks} == {0}


def _parallels(voices, grid=0.25):
    """Independent check: consecutive onset slices where two voices both move and keep a
    perfect fifth or octave (mod 12)."""
    def q(x):
        return round(x / grid) * grid
    times = sorted({q(n.start_beat) for v in voices for n in v})

    def at(v, t):
        ps = [n.pitch for n in v if q(n.start_beat) <= t < max(q(n.end_beat), q(n.start_beat) + grid)]
        return max(ps) if ps else None

    found = []
    for t0, t1 in itertools.pairwise(times):
        for a, b in itertools.combinations(range(len(voices)), 2):
            p = at(voices[a], t0), at(voices[b], t0), at(voices[a], t1), at(voices[b], t1)
            if None in p or p[0] == p[2] or p[1] == p[3]:
                continue
            if (p[0] - p[1]) % 12 == (p[2] - p[3]) % 12 and (p[0] - p[1]) % 12 in (0, 7):
                found.append((t1, a, b))
    return found


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_string_quartet_has_no_parallel_fifths_or_octaves(seed):
    style = load_style("string-quartet")
    progression = [["C", "F", "G", "C", "Am", "Dm", "G7", "C"],
                   ["Am", "Dm", "E7", "Am", "F", "G", "C", "E7"],
                   ["C", "G", "Am", "Em", "F", "C", "F", "G"],
                   ["F", "Bb", "C7", "F", "Dm", "Gm7", "C7", "F"]][seed]
    lead = lead_sheet(tempo_bpm=84, progression=progression, seed=seed)
    score = arrange(lead, style, seed=seed)
    voices = [score.track(n).notes for n in ("violin1", "violin2", "viola", "cello")]
    assert all(voices)
    assert _parallels(voices) == []
    # the first violin plays the tune
    assert [n.pitch % 12 for n in voices[0]] == [n.pitch % 12 for n in lead.tracks[0].notes]
    # chords are complete: root and third sound at (nearly) every chord change
    complete = 0
    for c in score.chords:
        t = c.start_beat + 0.1
        sounding = {n.pitch % 12 for v in voices for n in v if n.start_beat - 0.05 <= t < n.end_beat}
        third = (c.chord.root + CHORD_QUALITIES[c.chord.quality][1]) % 12
        complete += {c.chord.root % 12, third} <= sounding
    assert complete >= 0.9 * len(score.chords)


def test_parallels_checker_catches_parallels():
    from tunesmith.arrange.fourpart import parallel_perfects

    upper = [Note(0, 1, 67), Note(1, 1, 69)]
    lower = [Note(0, 1, 60), Note(1, 1, 62)]  # G/C -> A/D: parallel fifths
    assert [(p.beat, p.interval) for p in parallel_perfects([upper, lower])] == [(1.0, 7)]
    assert _parallels([upper, lower]) == [(1.0, 0, 1)]
    oblique = [Note(0, 2, 60)]
    assert parallel_perfects([upper, oblique]) == []


def test_voice_leading_moves_less_than_root_position(arranged):
    for name, part in (("pop", "keys"), ("gospel", "piano"), ("edm-house", "pad")):
        _style, score = arranged[name]
        voicings = [p for _c, p in _onsets_by_chord(score.track(part), score) if len(p) >= 3]
        ours = np.mean([sum(abs(a - b) for a, b in zip(v, w, strict=False))
                        for v, w in itertools.pairwise(voicings)])
        naive = []
        for a, b in itertools.pairwise(score.chords):
            ra = [60 + a.chord.root + i for i in CHORD_QUALITIES[a.chord.quality][:3]]
            rb = [60 + b.chord.root + i for i in CHORD_QUALITIES[b.chord.quality][:3]]
            naive.append(sum(abs(x - y) for x, y in zip(ra, rb, strict=True)))
        assert ours < 0.6 * np.mean(naive), (name, ours, np.mean(naive))


def test_humanisation_keeps_the_groove():
    style = load_style("rock")
    lead = lead_sheet(tempo_bpm=124, bars=(16, 16))
    drums = next(t for t in arrange(lead, style, seed=3).tracks if t.is_drum).notes
    spb = style.drums.steps_per_beat
    dev_ms = np.array([(n.start_beat - round(n.start_beat * spb) / spb) * 60000 / 124 for n in drums])
    assert np.abs(dev_ms).max() <= 2 * style.humanize_ms + 0.1  # start times kept to 0.1 ms
    first, second = np.array_split(dev_ms, 2)
    assert abs(first.mean() - second.mean()) < 1.5  # no drift
    assert 0.5 * style.humanize_ms < dev_ms.std() < 1.5 * style.humanize_ms
    # accents stay accents: backbeat snares (X) louder than every hi-hat (x)
    snare = [n.velocity for n in drums if n.pitch == DRUM_NOTES["snare"]
             and round(n.start_beat * 4) % 16 in (4, 12)]
    hats = [n.velocity for n in drums if n.pitch == DRUM_NOTES["hat"]]
    assert np.mean(snare) > np.mean(hats) + 12


def test_lofi_snare_lays_back():
    style = load_style("lofi-hip-hop")
    score = arrange(lead_sheet(tempo_bpm=80, bars=(8, 8)), style, seed=1)
    drums = next(t for t in score.tracks if t.is_drum).notes

    def late_ms(pitch):
        # onsets are swung: compare with the swung grid
        from tunesmith.arrange.feel import swing_time
        return np.mean([(n.start_beat - swing_time(round(n.start_beat * 4) / 4, 0.6, 0.25))
                        * 60000 / 80 for n in drums if n.pitch == pitch])

    assert late_ms(DRUM_NOTES["snare"]) - late_ms(DRUM_NOTES["kick"]) > 12


@pytest.mark.parametrize("bpb", [3, 6])
def test_four_four_styles_play_in_three_and_six(bpb):
    for name in ("rock", "pop", "bossa-nova", "jazz-swing", "hip-hop-trap"):
        style = load_style(name)
        lead = lead_sheet(beats_per_bar=bpb, tempo_bpm=style.default_tempo)
        score = arrange(lead, style)
        end = lead.sections[-1].end_beat
        drums = next(t for t in score.tracks if t.is_drum).notes
        bars_with_kick_on_one = {int((n.start_beat + 0.1) // bpb) for n in drums
                                 if n.pitch == DRUM_NOTES["kick"] and (n.start_beat + 0.1) % bpb < 0.2}
        assert bars_with_kick_on_one == set(range(int(end // bpb))), name
        for t in score.tracks:
            assert all(n.start_beat < end for n in t.notes), (name, t.name)
        if name == "rock":  # the backbeat lands on beat 2 of each group of three
            snares = {round(n.start_beat) % 3 for n in drums if n.pitch == DRUM_NOTES["snare"]
                      and n.start_beat < lead.sections[0].end_beat - bpb}
            assert snares == {1, 2}


@pytest.mark.parametrize("bpb", [3, 6])
def test_compound_meters_shuffle_the_grooves(bpb):
    """6/8 and 12/8 (Score.compound): a 4/4 groove's beats become dotted-quarter pulses."""
    style = load_style("rock")
    lead = lead_sheet(beats_per_bar=bpb, tempo_bpm=style.default_tempo)
    lead.compound = True
    score = arrange(lead, style)
    assert score.compound and score.swing == 0.5
    drums = next(t for t in score.tracks if t.is_drum).notes
    verse_end = lead.sections[0].end_beat - bpb
    steady = [n for n in drums if n.start_beat < verse_end]
    assert all(abs(n.start_beat * 2 - round(n.start_beat * 2)) < 0.05 for n in steady)  # eighths
    snares = {round(n.start_beat * 2) / 2 % bpb for n in steady if n.pitch == DRUM_NOTES["snare"]}
    assert snares == ({1.5} if bpb == 3 else {1.5, 4.5})  # the backbeat on pulse 2 (and 4)
    hats = {round(n.start_beat * 2) / 2 % 1.5 for n in steady if n.pitch == DRUM_NOTES["hat"]}
    assert hats == {0.0, 1.0}  # straight eighths become the shuffle: first and third eighth
    jazz = arrange(lead, load_style("jazz-swing"))
    walk = [n.start_beat for n in jazz.track("bass").notes if n.start_beat < verse_end - 0.2]
    assert all(abs(b / 1.5 - round(b / 1.5)) < 0.05 for b in walk)  # a bass note per pulse
    assert len(walk) == int(verse_end / 1.5)


def test_meter_mapping_of_grooves():
    assert fit_drum_row("x...x...x...x...", bar_index=0, steps_per_beat=4, src_beats_per_bar=4,
                        beats_per_bar=3) == "x...x...x..."
    assert fit_drum_row("....X.......X...", bar_index=0, steps_per_beat=4, src_beats_per_bar=4,
                        beats_per_bar=3) == "....X...X..."  # backbeat: 2 and 4 -> 2 and 3
    assert fit_drum_row("x.x.x.x.x.x.x.x.", bar_index=0, steps_per_beat=4, src_beats_per_bar=4,
                        beats_per_bar=6) == "x.x." * 6
    row = fit_drum_row("x..x..x...x..x....x...x..x..x...", bar_index=1, steps_per_beat=4,
                       src_beats_per_bar=4, beats_per_bar=4)
    assert row == "..x...x..x..x..."


def test_remeter_melody_keeps_time_in_seconds():
    melody = [Note(0, 1, 60), Note(1, 1, 62), Note(2, 2, 64), Note(4, 4, 65)]
    out, tempo = remeter_melody(melody, tempo_bpm=100, beats_per_bar=4, target_beats_per_bar=3)
    assert tempo == 150
    for a, b in zip(melody, out, strict=True):
        assert a.start_beat * 60 / 100 == pytest.approx(b.start_beat * 60 / tempo)
    assert [n.start_beat % 3 for n in out] == [0, 1.5, 0, 0]  # each half-bar is now a bar of 3
    same, t = remeter_melody(melody, tempo_bpm=100, beats_per_bar=4, target_beats_per_bar=4)
    assert same == melody and t == 100


# ---------------------------------------------------------------- audio: render 8 bars per style


def _onsets_s(audio: np.ndarray, sr: int) -> np.ndarray:
    """Percussive onsets: peaks of SuperFlux-style log-spectral flux (hop 2.9 ms at 22.05 kHz;
    the rise is taken against the maximum of neighbouring bins two frames back, so the shimmer of
    a ride or a brush swirl does not read as new hits)."""
    from scipy.ndimage import maximum_filter1d

    x = audio.mean(axis=0)
    n_fft, hop, lag = 512, 64, 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.log1p(1000 * np.abs(np.fft.rfft(frames, axis=1)))
    ref = maximum_filter1d(mag, 3, axis=1)
    flux = np.zeros(len(mag))
    flux[lag:] = np.maximum(mag[lag:] - ref[:-lag], 0).sum(axis=1)
    flux = np.convolve(flux, np.ones(3) / 3, mode="same")
    thr = np.median(flux) + 0.1 * (np.percentile(flux, 99.5) - np.median(flux))
    w = 8  # peaks at least 23 ms apart
    peaks = [i for i in range(w, len(flux) - w)
             if flux[i] >= thr and flux[i] == flux[i - w:i + w + 1].max()]
    return np.array(peaks) * hop / sr + n_fft / 2 / sr


def _groove_bars(style, score):
    """Bars (verse and chorus) that play a groove and are neither a fill bar nor the last bar."""
    d = style.drums
    bpb = score.beats_per_bar
    out = []
    for sec in score.sections:
        if not d.sections.get(sec.kind):
            continue
        first = int(sec.start_beat // bpb)
        out += list(range(first, first + int(sec.duration_beats // bpb) - 1))
    return out


def _expected_onsets(style, score, bars):
    """Every drum hit the style's data asks for in `bars`: (seconds, accent letter, straight
    position in beats), swing and feel included in the seconds."""
    from tunesmith.arrange.feel import swing_time

    d = style.drums
    bpb = score.beats_per_bar
    out = []
    for b in bars:
        bar_start = b * bpb
        sec = next(s for s in score.sections if s.start_beat <= bar_start < s.end_beat)
        groove = d.grooves[d.sections[sec.kind]]
        bar_in_sec = int((bar_start - sec.start_beat) // bpb)
        for drum, row in groove.items():
            fitted = fit_drum_row(row, bar_index=bar_in_sec, steps_per_beat=d.steps_per_beat,
                                  src_beats_per_bar=style.pattern_beats_per_bar, beats_per_bar=bpb)
            for i, ch in enumerate(fitted):
                if ch in DRUM_VELOCITY:
                    straight = bar_start + i / d.steps_per_beat
                    beat = swing_time(straight, style.swing, style.swing_unit)
                    t = beat * 60 / score.tempo_bpm + d.feel_ms.get(drum, 0) / 1000
                    out.append((t, ch, straight))
    return out


@pytest.fixture(scope="module")
def rendered(arranged):
    from tunesmith.render import render

    return {name: {s.name: s.audio for s in render(score, sample_rate=SR, workers=1)}
            for name, (_style, score) in arranged.items()}


@needs_soundfont
@pytest.mark.parametrize("name", STYLES)
def test_style_renders_its_groove_swing_and_instruments(name, arranged, rendered):
    style, score = arranged[name]
    stems = rendered[name]
    # every part sounds
    for t in score.tracks:
        rms = float(np.sqrt(np.mean(stems[t.name] ** 2)))
        assert rms > 10 ** (-50 / 20), (name, t.name, rms)
    drums = next((t for t in score.tracks if t.is_drum), None)
    if drums is None:
        assert name == "string-quartet"
        return
    # groove: the drum stem's onsets against the style's patterns, in the bars that play a
    # groove (fill bars and the final bar left out)
    spb = 60 / score.tempo_bpm
    bpb = score.beats_per_bar
    bars = _groove_bars(style, score)
    expected = _expected_onsets(style, score, bars)
    found = _onsets_s(stems[drums.name], SR)
    keep = np.zeros(len(found), dtype=bool)
    for b in bars:
        keep |= (found > b * bpb * spb - 0.03) & (found < (b + 1) * bpb * spb - 0.03)
    found = found[keep]
    times = np.array(sorted({round(t, 4) for t, _, _ in expected}))
    strong = np.array(sorted({round(t, 4) for t, ch, _ in expected if ch in "Xx"}))
    tol = 0.03 + 2 * style.humanize_ms / 1000
    # the analysis window's latency is one constant: estimate it, then match
    near = np.array([times[np.argmin(np.abs(times - f))] - f for f in found])
    latency = float(np.median(near[np.abs(near) < 0.04])) if np.any(np.abs(near) < 0.04) else 0.0
    found = found + latency
    precision = np.mean([np.min(np.abs(times - f)) < tol for f in found])
    recall = np.mean([np.min(np.abs(found - t)) < tol for t in strong])
    assert precision > 0.85 and recall > 0.8, (name, precision, recall, len(found), len(strong))
    # swing measured from the audio: the detected onsets of the hits on the swing unit's
    # off-beats, as a fraction of their pair (0.5 straight, 0.67 triplet)
    period = 2 * style.swing_unit
    offbeats = sorted({s for _, ch, s in expected if ch in "Xxo"
                       and abs(s % period - style.swing_unit) < 1e-6})
    ratios = []
    for s in offbeats:
        pair_start = (s - style.swing_unit) * spb
        window = found[(found > pair_start + 0.3 * period * spb)
                       & (found < pair_start + 0.85 * period * spb)]
        if len(window):
            t = window[np.argmin(np.abs(window - (pair_start + style.swing * period * spb)))]
            ratios.append((t - pair_start) / (period * spb))
    if style.swing > 0.52:
        assert len(ratios) >= 6, name
    if len(ratios) >= 6:
        measured = float(np.median(ratios))
        assert abs(measured - style.swing) < 0.03, (name, measured, style.swing)


def test_styles_doc_lists_every_key():
    doc = (Path(__file__).parent.parent / "docs" / "styles.md").read_text(encoding="utf-8")
    for key in ("beats_per_bar", "dynamics", "feel_ms", "fills", "steps_per_beat", "voice",
                "lead", "max_notes", "5-", "satb", "bossa", "shell"):
        assert key in doc, key
