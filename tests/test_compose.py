import pytest

from tunesmith.compose import ComposeError, compose, transpose_to_key
from tunesmith.theory import Key


def _notes_in(score, section):
    mel = score.track("melody").notes
    return [n for n in mel if section.start_beat <= n.start_beat < section.end_beat]


def test_form_has_core_sections_and_default_length(hook):
    s = compose(hook, key=Key(0), tempo_bpm=96, seed=0)
    kinds = [x.kind for x in s.sections]
    for needed in ("intro", "verse", "chorus", "outro"):
        assert needed in kinds
    assert kinds[0] == "intro" and kinds[-1] == "outro"
    assert kinds.count("verse") >= 2 and kinds.count("chorus") >= 2
    assert 120 <= s.duration_s <= 180


@pytest.mark.parametrize("length_s,tempo", [(60, 120), (150, 72), (240, 140)])
def test_length_is_honoured(hook, length_s, tempo):
    s = compose(hook, key=Key(0), tempo_bpm=tempo, length_s=length_s)
    bar_s = 4 * 60 / tempo
    assert abs(s.duration_s - length_s) <= max(8 * bar_s, 0.2 * length_s)


def test_hook_is_verbatim_in_every_chorus(hook):
    s = compose(hook, key=Key(0), tempo_bpm=96)
    choruses = [x for x in s.sections if x.kind == "chorus"]
    assert len(choruses) >= 2
    want = [(n.start_beat, n.pitch) for n in hook]
    for c in choruses:
        got = [(n.start_beat - c.start_beat, n.pitch) for n in _notes_in(s, c)][:len(want)]
        # register may move by whole octaves only
        shift = got[0][1] - want[0][1]
        assert shift % 12 == 0
        assert got == [(b, p + shift) for b, p in want]


def test_verses_are_not_copies_of_the_chorus(hook):
    s = compose(hook, key=Key(0), tempo_bpm=96)
    verse = next(x for x in s.sections if x.kind == "verse")
    chorus = next(x for x in s.sections if x.kind == "chorus")
    v = [n.pitch for n in _notes_in(s, verse)][:8]
    c = [n.pitch for n in _notes_in(s, chorus)][:8]
    assert v != c


def test_at_least_one_chord_per_bar_and_final_cadence(hook):
    s = compose(hook, key=Key(0), tempo_bpm=96)
    end = s.sections[-1].end_beat
    for bar in range(int(end // 4)):
        assert any(c.start_beat < bar * 4 + 4 and c.end_beat > bar * 4 for c in s.chords), bar
    assert s.chords[-1].chord.root == 0  # ends on the tonic
    chorus = next(x for x in s.sections if x.kind == "chorus")
    last_in_chorus = [c for c in s.chords if chorus.start_beat <= c.start_beat < chorus.end_beat][-1]
    assert last_in_chorus.chord.root == 0


def test_chords_fit_the_melody(hook):
    s = compose(hook, key=Key(0), tempo_bpm=96)
    hits = total = 0
    for n in s.track("melody").notes:
        if n.start_beat % 1:
            continue
        c = s.chord_at(n.start_beat)
        total += 1
        hits += (n.pitch % 12) in c.chord.pitch_classes
    assert hits / total >= 0.7


def test_minor_key_uses_minor_tonic(hook):
    a_minor = transpose_to_key(hook, source=Key(0), target=Key(9, "minor"))
    s = compose(a_minor, key=Key(9, "minor"), tempo_bpm=90)
    assert s.chords[-1].chord.root == 9 and s.chords[-1].chord.quality == "min"


def test_deterministic_for_a_seed(hook):
    a = compose(hook, key=Key(0), tempo_bpm=96, seed=3)
    b = compose(hook, key=Key(0), tempo_bpm=96, seed=3)
    assert a.chords == b.chords and a.track("melody").notes == b.track("melody").notes


def test_bad_length_is_refused(hook):
    with pytest.raises(ComposeError, match="length"):
        compose(hook, key=Key(0), tempo_bpm=96, length_s=3)


def test_long_hum_keeps_its_opening_phrase_as_hook(hook):
    long_hum = [n.shifted(16 * k) for k in range(5) for n in hook]  # 20 bars hummed
    s = compose(long_hum, key=Key(0), tempo_bpm=100, length_s=150)
    chorus = next(x for x in s.sections if x.kind == "chorus")
    assert chorus.duration_beats == 32  # an 8-bar chorus, not the whole hum
    assert 120 <= s.duration_s <= 180


def test_short_length_gives_a_short_song(hook):
    s = compose(hook, key=Key(0), tempo_bpm=86, length_s=50)
    kinds = [x.kind for x in s.sections]
    assert kinds == ["intro", "verse", "chorus", "verse", "chorus", "outro"]
    assert s.duration_s < 60


@pytest.mark.parametrize("length_s", [40, 60, 150, 300])
def test_every_bar_has_a_chord(hook, length_s):
    s = compose(hook, key=Key(0), tempo_bpm=125, length_s=length_s)
    end = s.sections[-1].end_beat
    for bar in range(int(end // 4)):
        assert any(c.start_beat < bar * 4 + 4 and c.end_beat > bar * 4 for c in s.chords), bar


def test_major_hum_in_a_minor_key_changes_mode(hook):
    # E D C D E E E | D D D | E G G in C major -> A minor: C E G become A C E, D -> B
    moved = transpose_to_key(hook, source=Key(0), target=Key(9, "minor"))
    assert [n.pitch for n in moved[:4]] == [60, 59, 57, 59]
    assert {n.pitch % 12 for n in moved} <= set(Key(9, "minor").scale)
    same_mode = transpose_to_key(hook, source=Key(0), target=Key(2))
    assert [n.pitch - o.pitch for n, o in zip(same_mode, hook, strict=True)] == [2] * len(hook)
