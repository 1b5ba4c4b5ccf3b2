"""Song forms as data, and songs in 3/4 and 6/8."""

import pytest

from tunesmith.compose import ComposeError, compose
from tunesmith.compose.form import FormError, form_names, load_form, plan_form, roman_chord
from tunesmith.compose.meter import Meter, MeterError
from tunesmith.score import Note, read_score_midi, write_score_midi
from tunesmith.theory import Key

POP_FULL = ["intro", "verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "bridge",
            "chorus", "outro"]


def _notes_in(score, section):
    return [n for n in score.track("melody").notes
            if section.start_beat <= n.start_beat < section.end_beat]


def _hook_in(score, section, hook):
    got = [(n.start_beat - section.start_beat, n.pitch) for n in _notes_in(score, section)][:len(hook)]
    shift = got[0][1] - hook[0].pitch
    return shift % 12 == 0 and got == [(n.start_beat, n.pitch + shift) for n in hook]


def test_forms_file_has_pop_aaba_and_blues():
    assert {"pop", "aaba", "blues"} <= set(form_names())
    for name in form_names():
        form = load_form(name)
        assert form.variants and all(form.variants)


def test_pop_form_in_full_is_the_classic_order():
    # 64 bars of 2.5 s: the full pop form fits a 160 s target exactly.
    plan = plan_form(chorus_bars=8, seconds_per_bar=2.5, target_s=160, hook_bars=4)
    assert [s.kind for s in plan] == POP_FULL
    assert [s.label for s in plan][:4] == ["Intro", "Verse 1", "Pre-chorus 1", "Chorus 1"]
    assert plan[-2].energy == 1.0  # the last chorus is the biggest


def test_aaba_head_is_a_a_b_a():
    plan = plan_form(chorus_bars=8, seconds_per_bar=2.0, target_s=80, hook_bars=4, form="aaba")
    assert [s.label for s in plan] == ["Intro", "A 1", "A 2", "B", "A 3", "Outro"]
    assert [s.kind for s in plan[1:5]] == ["chorus", "chorus", "bridge", "chorus"]


def test_longer_targets_repeat_the_form_before_its_ending():
    short = plan_form(chorus_bars=8, seconds_per_bar=2.0, target_s=80, hook_bars=4, form="aaba")
    long = plan_form(chorus_bars=8, seconds_per_bar=2.0, target_s=400, hook_bars=4, form="aaba")
    assert len(long) > len(short) + 4
    assert sum(s.kind == "solo" for s in long) >= 4
    assert long[-1].kind == "outro" and [s.label for s in long[-5:-1]][0].startswith("A")


def test_unknown_form_is_refused(hook):
    with pytest.raises(FormError, match="unknown song form 'polka'.*aaba"):
        compose(hook, key=Key(0), tempo_bpm=96, form="polka")


def test_roman_numerals_follow_the_key():
    assert roman_chord("IV7", Key(0)).symbol() == "F7"
    assert roman_chord("bVI7", Key(9, "minor")).symbol() == "F7"
    assert roman_chord("Im7", Key(9, "minor")).symbol() == "Am7"
    with pytest.raises(FormError):
        roman_chord("X7", Key(0))


def test_blues_chorus_keeps_the_hum_over_the_twelve_bar_changes(hook):
    s = compose(hook, key=Key(0), tempo_bpm=110, form="blues", length_s=120)
    choruses = [x for x in s.sections if x.kind == "chorus"]
    assert choruses and all(c.duration_beats == 48 for c in choruses)
    want = ["C7", "C7", "C7", "C7", "F7", "F7", "C7", "C7", "G7", "F7", "C7", "G7"]
    for c in choruses:
        assert _hook_in(s, c, hook)
        bars = [s.chord_at(c.start_beat + 4 * b).symbol for b in range(12)]
        assert bars == want
    # After the hum the chorus goes on with new lines, not the hum again.
    c = choruses[0]
    rest = [n.pitch for n in _notes_in(s, c) if n.start_beat - c.start_beat >= 16]
    assert rest and rest[:len(hook)] != [n.pitch for n in hook][:len(rest)]


def test_aaba_song_keeps_the_hum_in_every_a(hook):
    s = compose(hook, key=Key(0), tempo_bpm=130, form="aaba", length_s=100)
    a_sections = [x for x in s.sections if x.kind == "chorus"]
    assert len(a_sections) >= 3
    assert all(_hook_in(s, a, hook) for a in a_sections)
    bridge = next(x for x in s.sections if x.kind == "bridge")
    assert not _hook_in(s, bridge, hook)


@pytest.mark.parametrize("form", ["pop", "aaba", "blues"])
@pytest.mark.parametrize("length_s", [45, 150, 300])
def test_every_form_fits_the_length(hook, form, length_s):
    s = compose(hook, key=Key(0), tempo_bpm=120, form=form, length_s=length_s)
    bar_s = 4 * 60 / 120
    assert abs(s.duration_s - length_s) <= max(12 * bar_s, 0.25 * length_s)
    end = s.sections[-1].end_beat
    for bar in range(int(end // 4)):
        assert any(c.start_beat < bar * 4 + 4 and c.end_beat > bar * 4 for c in s.chords), bar


def test_meter_levels():
    four, three, six = Meter(4), Meter(3), Meter(3, compound=True)
    assert [four.level(b) for b in (0, 0.25, 0.5, 1, 2, 3)] == [0, 4, 3, 2, 1, 2]
    assert [three.level(b) for b in (0, 1, 1.5, 2)] == [0, 2, 3, 2]
    assert [six.level(b) for b in (0, 0.5, 1, 1.5, 2, 2.5)] == [0, 3, 3, 1, 3, 3]
    assert six.is_strong(1.5) and not three.is_strong(1.5) and four.is_strong(2)
    assert Meter.parse("6/8") == six and Meter.parse("3/4") == three
    assert six.time_signature == "6/8"
    with pytest.raises(MeterError):
        Meter.parse("7/8")


def _waltz_hook(compound: bool):
    """A 4-bar phrase in 3 (quarter-note beats): in 6/8 the eighths group in threes."""
    if compound:
        rhythm = [(0, 1.0, 67), (1.0, 0.5, 69), (1.5, 1.0, 71), (2.5, 0.5, 72),
                  (3, 1.5, 74), (4.5, 1.5, 71),
                  (6, 1.0, 69), (7.0, 0.5, 67), (7.5, 1.5, 66),
                  (9, 3.0, 67)]
    else:
        rhythm = [(0, 2, 67), (2, 1, 71), (3, 1, 74), (4, 1, 72), (5, 1, 71),
                  (6, 2, 69), (8, 1, 66), (9, 3, 67)]
    return [Note(a, d, p) for a, d, p in rhythm]


@pytest.mark.parametrize("compound", [False, True])
def test_a_hum_in_three_gives_a_song_in_three(tmp_path, compound):
    hook = _waltz_hook(compound)
    s = compose(hook, key=Key(7), tempo_bpm=120, beats_per_bar=3, compound=compound,
                length_s=90, seed=2)
    assert s.beats_per_bar == 3 and s.compound == compound
    assert all(x.start_beat % 3 == 0 and x.duration_beats % 3 == 0 for x in s.sections)
    end = s.sections[-1].end_beat
    for bar in range(int(end // 3)):
        assert any(c.start_beat < bar * 3 + 3 and c.end_beat > bar * 3 for c in s.chords), bar
    for c in (x for x in s.sections if x.kind == "chorus"):
        assert _hook_in(s, c, hook)
    # New material keeps to the bar: most notes of the verse start on the meter's beats.
    verse = next(x for x in s.sections if x.kind == "verse")
    onsets = [(n.start_beat - verse.start_beat) % 3 for n in _notes_in(s, verse)]
    on_grid = [o for o in onsets if abs(o * 2 - round(o * 2)) < 1e-6]
    assert len(on_grid) >= 0.8 * len(onsets)
    path = tmp_path / "waltz.mid"
    write_score_midi(s, path)
    back = read_score_midi(path)
    assert (back.beats_per_bar, back.compound) == (3, compound)
    import mido
    sig = next(m for t in mido.MidiFile(str(path)).tracks for m in t if m.type == "time_signature")
    assert (sig.numerator, sig.denominator) == ((6, 8) if compound else (3, 4))


def test_six_eight_chorus_puts_chord_tones_on_the_two_pulses():
    hook = _waltz_hook(True)
    s = compose(hook, key=Key(7), tempo_bpm=110, beats_per_bar=3, compound=True, length_s=90)
    meter = Meter(3, compound=True)
    strong = [n for n in s.track("melody").notes if meter.is_strong(n.start_beat)]
    hits = sum(n.pitch % 12 in s.chord_at(n.start_beat).chord.pitch_classes for n in strong)
    assert hits / len(strong) >= 0.6


def test_bad_meter_is_refused(hook):
    with pytest.raises(MeterError):
        compose(hook, key=Key(0), tempo_bpm=96, beats_per_bar=13)
    with pytest.raises(ComposeError, match="writer"):
        compose(hook, key=Key(0), tempo_bpm=96, writer="dice")


def test_styles_name_forms_that_exist():
    from tunesmith.arrange import load_style, style_names

    forms = set(form_names())
    for name in style_names():
        form = load_style(name).form
        assert not form or form in forms, (name, form)
    assert load_style("jazz-swing").form == "aaba"


def test_short_bars_give_longer_phrases_not_endless_repeats():
    # A fast waltz: 1.25 s a bar. 150 s is 120 bars: 16-bar sections, three choruses.
    plan = plan_form(chorus_bars=8, seconds_per_bar=1.25, target_s=150, hook_bars=8)
    assert [s.kind for s in plan] == POP_FULL
    assert {s.bars for s in plan if s.kind in ("verse", "chorus", "bridge")} == {16}
    # Bars of 2 s or more keep the 8-bar sections; AABA never stretches its 8-bar A.
    assert max(s.bars for s in plan_form(chorus_bars=8, seconds_per_bar=2.0, target_s=300,
                                          hook_bars=4)) == 8
    aaba = plan_form(chorus_bars=8, seconds_per_bar=1.25, target_s=150, hook_bars=4, form="aaba")
    assert {s.bars for s in aaba if s.kind == "chorus"} == {8}


@pytest.mark.parametrize("tempo_bpm", [72, 96, 128])
@pytest.mark.parametrize("length_s", [20, 30, 45])
def test_short_requests_give_short_songs(hook, tempo_bpm, length_s):
    # Whole sections only: within a quarter of the request or four bars, the hum in every chorus.
    s = compose(hook, key=Key(0), tempo_bpm=tempo_bpm, length_s=length_s)
    bar_s = 4 * 60 / tempo_bpm
    assert abs(s.duration_s - length_s) <= max(0.25 * length_s, 4 * bar_s), s.duration_s
    choruses = [x for x in s.sections if x.kind == "chorus"]
    assert choruses and all(_hook_in(s, c, hook) for c in choruses)


def test_shorter_requests_drop_sections():
    counts = [len(plan_form(chorus_bars=8, seconds_per_bar=2.5, target_s=t, hook_bars=4))
              for t in (20, 30, 60, 100, 160)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert [s.kind for s in plan_form(chorus_bars=8, seconds_per_bar=2.5, target_s=20,
                                      hook_bars=4)] == ["verse", "chorus"]
    # A slow 8-bar hum already as long as the request: the song is the hum.
    assert [s.kind for s in plan_form(chorus_bars=8, seconds_per_bar=3.3, target_s=25,
                                      hook_bars=8)] == ["chorus"]
