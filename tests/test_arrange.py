import numpy as np
import pytest

from tunesmith.arrange import apply_swing, arrange, load_style, style_names
from tunesmith.compose import compose
from tunesmith.errors import StyleError
from tunesmith.score import Note
from tunesmith.theory import Key

REQUIRED = {"pop-ballad", "rock", "jazz-swing", "lofi-hip-hop"}


@pytest.fixture(scope="module")
def songs():
    hook = [Note(0, 1, 64), Note(1, 1, 62), Note(2, 1, 60), Note(3, 1, 62), Note(4, 1, 64),
            Note(5, 1, 64), Note(6, 2, 64), Note(8, 1, 62), Note(9, 1, 62), Note(10, 2, 62),
            Note(12, 1, 64), Note(13, 1, 67), Note(14, 2, 67)]
    out = {}
    for name in style_names():
        style = load_style(name)
        tempo, _ = style.fit_tempo(96)
        lead = compose(hook, key=Key(0), tempo_bpm=tempo, seed=0, length_s=100)
        out[name] = (style, arrange(lead, style, seed=0))
    return out


def test_required_styles_exist():
    assert set(style_names()) >= REQUIRED


def test_unknown_style_is_a_clear_error():
    with pytest.raises(StyleError, match="unknown style 'polka'.*pop-ballad"):
        load_style("polka")


def test_every_style_has_melody_bass_drums_and_harmony(songs):
    for name, (style, score) in songs.items():
        roles = {t.role for t in score.tracks}
        assert {"melody", "bass"} <= roles, name
        assert roles & {"chords", "keys", "guitar", "strings"}, name
        # every style has drums but the string quartet
        assert any(t.is_drum for t in score.tracks) == (style.drums is not None), name
    assert sum(style.drums is None for style, _ in songs.values()) == 1


def test_styles_differ(songs):
    sigs = {}
    for name, (_style, score) in songs.items():
        sigs[name] = tuple(sorted((t.program, t.is_drum, len(t.notes)) for t in score.tracks))
    assert len(set(sigs.values())) == len(sigs)


def test_tempo_in_style_range(songs):
    for _name, (style, score) in songs.items():
        lo, hi = style.tempo_range
        assert lo <= score.tempo_bpm <= hi


def _density_and_velocity(score, kind):
    secs = [s for s in score.sections if s.kind == kind]
    notes = [n for t in score.tracks if t.role != "melody" for n in t.notes
             for s in secs if s.start_beat <= n.start_beat < s.end_beat - 4]  # skip fill bar
    beats = sum(s.duration_beats - 4 for s in secs)
    return len(notes) / beats, float(np.mean([n.velocity for n in notes]))


def test_chorus_is_fuller_and_louder_than_verse(songs):
    for name, (_style, score) in songs.items():
        dv, vv = _density_and_velocity(score, "verse")
        dc, vc = _density_and_velocity(score, "chorus")
        assert dc > dv and vc > vv + 3, (name, dv, dc, vv, vc)


def test_drum_fill_at_section_ends(songs):
    for name, (_style, score) in songs.items():
        drums = next((t for t in score.tracks if t.is_drum), None)
        if drums is None:
            continue
        verse = next(s for s in score.sections if s.kind == "verse")
        last_bar = [n for n in drums.notes if verse.end_beat - 4 <= n.start_beat < verse.end_beat]
        mid_bar = [n for n in drums.notes if verse.start_beat + 4 <= n.start_beat < verse.start_beat + 8]
        toms_or_snare = {38, 41, 45, 47, 50}
        fill_hits = sum(n.pitch in toms_or_snare for n in last_bar if n.start_beat >= verse.end_beat - 2)
        plain_hits = sum(n.pitch in toms_or_snare for n in mid_bar if n.start_beat >= verse.start_beat + 6)
        assert fill_hits > plain_hits, name
        # a crash opens the next section
        nxt = score.sections[score.sections.index(verse) + 1]
        assert any(n.pitch == 49 and abs(n.start_beat - nxt.start_beat) < 0.1 for n in drums.notes), name


def test_jazz_swings_and_rock_is_straight(songs):
    def offbeat_positions(score):
        pos = [n.start_beat % 1 for t in score.tracks if t.is_drum for n in t.notes]
        return [p for p in pos if 0.3 < p < 0.9]
    jazz = offbeat_positions(songs["jazz-swing"][1])
    rock = offbeat_positions(songs["rock"][1])
    assert abs(np.median(jazz) - 0.66) < 0.04
    assert abs(np.median(rock) - 0.5) < 0.04


def test_jazz_uses_sevenths_and_walking_bass(songs):
    score = songs["jazz-swing"][1]
    sevenths = sum(c.chord.quality in ("maj7", "min7", "7", "m7b5") for c in score.chords)
    assert sevenths / len(score.chords) > 0.8
    bass = next(t for t in score.tracks if t.role == "bass")
    verse = next(s for s in score.sections if s.kind == "verse")
    in_verse = [n for n in bass.notes if verse.start_beat <= n.start_beat < verse.end_beat]
    assert abs(len(in_verse) - verse.duration_beats) <= 2  # a note per beat


def test_instrument_ranges(songs):
    for name, (style, score) in songs.items():
        for part in style.parts:
            if part.pattern in ("melody", "drums"):
                continue
            t = score.track(part.name)
            pitches = [n.pitch for n in t.notes]
            assert min(pitches) >= part.low - 1 and max(pitches) <= part.high + 12, (name, part.name)


def test_swing_warp_is_monotonic():
    notes = [Note(i * 0.25, 0.25, 60) for i in range(16)]
    out = apply_swing(notes, ratio=0.66, unit=0.5)
    starts = [n.start_beat for n in out]
    assert starts == sorted(starts)
    assert abs(out[2].start_beat - 0.66) < 1e-9 and out[4].start_beat == 1.0


def test_melody_keeps_its_sections_in_one_octave():
    """A verse written a few semitones below the chorus stays below it on the instrument,
    even when a few of its notes sit under the instrument's range (they fold, the verse does
    not jump an octave above the chorus)."""
    from tunesmith.arrange.melody import melody_notes
    from tunesmith.arrange.style import Part
    from tunesmith.score import Score, Section, Track

    verse = [Note(i, 1, p) for i, p in enumerate([59, 62, 64, 65, 64, 62, 60, 59, 62, 64, 65, 67,
                                                  64, 62, 60, 62])]
    chorus = [Note(16 + i, 1, p) for i, p in enumerate([67, 69, 67, 65, 64, 67, 72, 71, 69, 67,
                                                        65, 64, 67, 69, 67, 64])]
    lead = Score(tempo_bpm=90, key=Key(0), beats_per_bar=4,
                 tracks=[Track(name="melody", role="melody", notes=verse + chorus)],
                 sections=[Section("verse", "Verse", 0, 16, 0.5),
                           Section("chorus", "Chorus", 16, 16, 0.85)])
    flute = Part(name="melody", role="melody", program=73, instrument="Flute", pattern="melody",
                 sections=("verse", "chorus"), low=60, high=96)
    out = melody_notes(flute, lead)
    mean = {k: np.mean([n.pitch for n in out if (n.start_beat < 16) == (k == "verse")])
            for k in ("verse", "chorus")}
    assert mean["chorus"] - 5 <= mean["verse"] < mean["chorus"]
    assert all(flute.low <= n.pitch <= flute.high for n in out)
