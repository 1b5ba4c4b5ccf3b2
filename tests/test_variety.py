"""Song-level harmonic colour (compose/variety.py): devices in their places, melody respected."""

import numpy as np

from tunesmith.compose import compose, transpose_to_key
from tunesmith.compose.variety import colour_section, device_of, fits
from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

C = Key(0, "major")
A_MINOR = Key(9, "minor")
# What colour_section may add (plus the harmoniser's own I7 and, in minor, V; "other" never).
ALLOWED = {"major": {"sus2", "sus4", "V/V", "V/vi", "V/ii", "V/IV", "iv", "bVII", "bVI"},
           "minor": {"sus2", "sus4", "IV", "I", "V", "V/V"}}


def _ch(start, dur, text):
    return Chord(float(start), float(dur), ChordSymbol.parse(text))


def test_device_names():
    assert device_of(ChordSymbol.parse("D"), C) == "V/V"
    assert device_of(ChordSymbol.parse("E7"), C) == "V/vi"
    assert device_of(ChordSymbol.parse("Fm"), C) == "iv"
    assert device_of(ChordSymbol.parse("Bb"), C) == "bVII"
    assert device_of(ChordSymbol.parse("Gsus4"), C) == "sus4"
    assert device_of(ChordSymbol.parse("Am"), C) is None
    assert device_of(ChordSymbol.parse("E"), A_MINOR) == "V"
    assert device_of(ChordSymbol.parse("F#m"), C) == "other"


def test_a_held_clash_rules_a_chord_out():
    # G natural held over E major (V/vi) clashes with its G#; a B over it is a chord tone.
    assert not fits(ChordSymbol.parse("E"), [Note(0, 2, 67)], 0, 2)
    assert fits(ChordSymbol.parse("E"), [Note(0, 2, 71)], 0, 2)


def test_secondary_dominants_resolve_to_their_targets():
    # Many draws over C - Am - F - G - C with a melody that allows every device.
    chords = [_ch(0, 4, "C"), _ch(4, 4, "Am"), _ch(8, 4, "F"), _ch(12, 4, "G"), _ch(16, 4, "C")]
    seen = set()
    for seed in range(60):
        out = colour_section(chords, [], key=C, rng=np.random.default_rng(seed))
        assert out[0].start_beat == 0 and out[-1].end_beat == 20
        for a, b in zip(out, out[1:], strict=False):
            assert a.end_beat == b.start_beat
            name = device_of(a.chord, C)
            if name in ("V/V", "V/vi", "V/ii"):
                seen.add(name)
                assert (b.chord.root - a.chord.root) % 12 == 5, (name, a, b)  # a fourth up
            if name == "sus4":
                assert b.chord.root == a.chord.root and b.chord.quality in ("maj", "min")
    assert {"V/V", "V/vi"} <= seen


def test_no_device_against_the_melody():
    # A melody holding G over the end of bar 1 rules out E (V/vi) there.
    chords = [_ch(0, 4, "C"), _ch(4, 4, "Am")]
    melody = [Note(0, 2, 64), Note(2, 2, 67), Note(4, 4, 69)]
    for seed in range(40):
        out = colour_section(chords, melody, key=C, rng=np.random.default_rng(seed))
        assert all(device_of(c.chord, C) != "V/vi" for c in out)


def test_same_generator_seed_same_colour():
    chords = [_ch(0, 4, "C"), _ch(4, 4, "Am"), _ch(8, 4, "F"), _ch(12, 4, "G")]
    a = colour_section(chords, [], key=C, rng=np.random.default_rng(3))
    b = colour_section(chords, [], key=C, rng=np.random.default_rng(3))
    assert a == b


def test_a_composed_song_is_richer_and_only_uses_the_devices(hook):
    distinct, outside = [], 0
    for seed in range(3):
        score = compose(hook, key=C, tempo_bpm=100, length_s=120, seed=seed)
        distinct.append(len({(c.chord.root, c.chord.quality) for c in score.chords}))
        for c in score.chords:
            name = device_of(c.chord, C)
            assert name is None or name in ALLOWED["major"], (seed, c)
            outside += name not in (None, "sus2", "sus4")
    # Before the colour these songs had 6-7 distinct chords and nothing outside the key.
    assert np.mean(distinct) >= 8
    assert outside > 0


def test_minor_song_devices_are_allowed(hook, monkeypatch):
    import tunesmith.compose as compose_module

    minor_hook = transpose_to_key(hook, source=C, target=A_MINOR)
    score = compose(minor_hook, key=A_MINOR, tempo_bpm=90, length_s=120, seed=1)
    monkeypatch.setattr(compose_module, "colour_section", lambda chords, melody, **_: list(chords))
    plain = compose(minor_hook, key=A_MINOR, tempo_bpm=90, length_s=120, seed=1)
    before = {c.chord for c in plain.chords}
    for c in score.chords:  # what the colour adds is one of the devices
        name = device_of(c.chord, A_MINOR)
        assert c.chord in before or name is None or name in ALLOWED["minor"], c


def _chord_at(score, beat):
    return next((c.chord for c in score.chords if c.start_beat <= beat < c.end_beat), None)


def test_verse_second_half_is_not_a_copy_of_its_first(hook):
    copies = total = 0
    for seed in range(4):
        score = compose(hook, key=C, tempo_bpm=100, length_s=150, seed=seed)
        for s in score.sections:
            if s.kind != "verse" or s.duration_beats < 32:
                continue
            first = [_chord_at(score, s.start_beat + b + 0.5) for b in range(16)]
            second = [_chord_at(score, s.start_beat + 16 + b + 0.5) for b in range(16)]
            total += 1
            copies += first == second
    assert total and copies == 0


def test_style_colour_keeps_outside_chords_in_the_key():
    from tunesmith.arrange import colour_chords

    lofi = {"maj": "maj7", "min": "min7", "dom": "9", "I": "maj7", "IV": "maj7"}
    out = colour_chords([_ch(0, 4, "E"), _ch(4, 4, "A"), _ch(8, 4, "F")], key=C, extensions=lofi)
    # V/vi must not become Emaj7 (D# against the key's D); V/ii takes the dominant colour.
    assert [c.chord.symbol() for c in out] == ["E", "A9", "Fmaj7"]
    ballad = {"IV": "maj7", "vi": "min7", "ii": "min7"}
    out = colour_chords([_ch(0, 4, "D")], key=A_MINOR, extensions=ballad)
    assert out[0].chord.symbol() == "D"  # the dorian IV in A minor, not Dmaj7 (C#)


def _span(chords, a, b):
    return [(c.start_beat - a, c.chord) for c in chords if a <= c.start_beat < b]


def test_prompt_chorus_colours_the_loops_repeat():
    from tunesmith.brief import BriefReader
    from tunesmith.brief.song import lead_sheet_from_brief

    brief = BriefReader().understand("a slow, bittersweet piano ballad about leaving home")
    varied = 0
    for seed in range(4):
        plan = lead_sheet_from_brief(brief, length_s=120, seed=seed)
        period = plan.hook.bars * plan.lead.beats_per_bar
        loop = [(c.start_beat, c.chord) for c in plan.progression]
        for sec in plan.lead.sections:
            if sec.kind != "chorus" or sec.duration_beats < 2 * period:
                continue
            first = _span(plan.lead.chords, sec.start_beat, sec.start_beat + period)
            second = _span(plan.lead.chords, sec.start_beat + period, sec.start_beat + 2 * period)
            assert first == loop  # the hook's first statement keeps the loop as written
            varied += second != first
            for _, chord in second:
                name = device_of(chord, plan.lead.key)
                assert name is None or name in ALLOWED[plan.lead.key.mode], chord
    assert varied > 0
