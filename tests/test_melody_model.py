"""The learned melody model, the section writer built on it, and the originality guard."""

from dataclasses import replace

import numpy as np
import pytest

from tunesmith.compose import compose, melody_originality
from tunesmith.compose.melody import MELODY_HIGH, MELODY_LOW, make_hook
from tunesmith.compose.melody_model import (
    MAX_INTERVAL,
    ChordTones,
    MelodyModel,
    NoteContext,
    dur_steps,
    dur_token,
    encode,
    events,
    gap_cond,
    gap_phi,
    gap_steps,
    gap_token,
    input_vector,
    log_softmax,
    pitch_cond,
    pitch_phi,
)
from tunesmith.compose.meter import Meter
from tunesmith.compose.originality import OriginalityIndex, build_index, window_hashes
from tunesmith.compose.pop909 import DatasetError, label_sections, load_lead_sheet, pop909_root
from tunesmith.compose.writer import SectionWriter, plan_section
from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

C = Key(0)
FOUR = Meter(4)


@pytest.fixture(scope="module")
def model() -> MelodyModel:
    return MelodyModel.load()


def _pop909():
    try:
        return pop909_root()
    except DatasetError as exc:
        pytest.skip(f"POP909 not available ({exc}); set TUNESMITH_DATA to ../shared/data")


def _ctx(chord: ChordSymbol | None, section: str = "verse", centre: float = 67.0) -> NoteContext:
    tones = ChordTones(chord.root, frozenset(chord.pitch_classes)) if chord else ChordTones(None, frozenset())
    return NoteContext(C, tones, section, 0.0, 32.0, centre)


def _state_after(model, notes, ctx):
    h = model.initial_state()
    evs = events(notes)
    h = model.step(h, input_vector(notes[0], None, ctx, FOUR))
    for n, ev in zip(notes, evs, strict=True):
        h = model.step(h, input_vector(n, ev, ctx, FOUR))
    return h


def _pc_probs(model, h, prev_pitch, onset, ctx):
    lp = log_softmax(model.head_logits("pitch", h, pitch_cond(onset, dur_token(4), ctx, FOUR),
                                       pitch_phi(prev_pitch, ctx)))
    probs = np.zeros(12)
    for k, p in enumerate(np.exp(lp)):
        probs[(prev_pitch + k - MAX_INTERVAL) % 12] += p
    return probs


def test_event_tokens_round_trip():
    notes = [Note(0, 1, 60), Note(1, 0.5, 64), Note(2, 2, 62), Note(12, 1, 79)]
    evs = events(notes)
    assert [gap_steps(e.gap) for e in evs[1:3]] == [0, 2]
    assert gap_token(40) == gap_token(17) != gap_token(16)  # long rests share a class
    assert [dur_steps(e.dur) for e in evs] == [4, 2, 8, 4]
    assert [e.interval - MAX_INTERVAL for e in evs] == [0, 4, -2, 12]  # +17 clipped to an octave


def test_heads_are_distributions(model):
    notes = [Note(0, 1, 64), Note(1, 1, 62), Note(2, 1, 60)]
    ctx = _ctx(ChordSymbol(0))
    h = _state_after(model, notes, ctx)
    gap = log_softmax(model.head_logits("gap", h, gap_cond(notes[-1], ctx, FOUR),
                                        gap_phi(3.0, FOUR)))
    pitch = log_softmax(model.head_logits("pitch", h, pitch_cond(4.0, dur_token(4), ctx, FOUR),
                                          pitch_phi(60, ctx)))
    for lp in (gap, pitch):
        assert np.isfinite(lp).all() and abs(np.exp(lp).sum() - 1) < 1e-5


def test_pitch_follows_the_chord_at_the_note(model, hook):
    h = _state_after(model, hook, _ctx(ChordSymbol(0)))
    on_c = _pc_probs(model, h, 67, 16.0, _ctx(ChordSymbol(0)))  # downbeat over C
    on_f = _pc_probs(model, h, 67, 16.0, _ctx(ChordSymbol(5)))  # the same over F
    on_g = _pc_probs(model, h, 67, 16.0, _ctx(ChordSymbol(7)))  # and over G
    assert on_c[[0, 4, 7]].sum() > 0.6
    assert on_f[[5, 9, 0]].sum() > on_c[[5, 9, 0]].sum() + 0.1
    assert on_g[[7, 11, 2]].sum() > on_c[[7, 11, 2]].sum() + 0.1
    assert on_c[[1, 3, 6, 8, 10]].sum() < 0.08  # chromatic notes are rare


def test_rhythm_knows_where_the_beats_are(model, hook):
    ctx = _ctx(ChordSymbol(0))
    h = _state_after(model, hook, ctx)
    prev = Note(15.0, 1.0, 67)  # ends on a downbeat
    lp = log_softmax(model.head_logits("gap", h, gap_cond(prev, ctx, FOUR), gap_phi(16.0, FOUR)))
    p = np.exp(lp)
    on_beat = sum(p[g] for g in range(17) if g % 4 == 0)
    off_sixteenth = sum(p[g] for g in range(17) if g % 2 == 1)
    assert on_beat > 3 * off_sixteenth


def test_a_tonal_line_is_likelier_than_a_random_one(model, hook, rng):
    ctxs = [_ctx(ChordSymbol(0), "chorus", 64.0)] * len(hook)
    real = model.note_log_likelihood(encode(hook, ctxs, FOUR))[1:].sum(axis=1).mean()
    scrambled = [replace(n, pitch=int(p)) for n, p in zip(hook, rng.integers(55, 80, len(hook)), strict=True)]
    fake = model.note_log_likelihood(encode(scrambled, ctxs, FOUR))[1:].sum(axis=1).mean()
    assert real > fake + 1.0  # nats per note


def _sections(score, kind):
    return [s for s in score.sections if s.kind == kind]


def _notes(score, section):
    return [n for n in score.track("melody").notes if section.start_beat <= n.start_beat < section.end_beat]


def test_same_seed_same_song_other_seed_other_song(hook):
    a = compose(hook, key=C, tempo_bpm=96, seed=5)
    b = compose(hook, key=C, tempo_bpm=96, seed=5)
    c = compose(hook, key=C, tempo_bpm=96, seed=6)
    assert a.track("melody").notes == b.track("melody").notes and a.chords == b.chords
    va, vc = (_notes(s, _sections(s, "verse")[0]) for s in (a, c))
    assert [(n.start_beat, n.pitch) for n in va] != [(n.start_beat, n.pitch) for n in vc]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_seed_gives_a_valid_song(hook, seed):
    s = compose(hook, key=C, tempo_bpm=96, seed=seed, length_s=150)
    meter = Meter(4)
    strong = hits = 0
    for sec in s.sections:
        if sec.kind not in ("verse", "prechorus", "bridge"):
            continue
        notes = _notes(s, sec)
        assert len(notes) >= sec.duration_beats / 4  # at least a note a bar on average
        assert all(MELODY_LOW <= n.pitch <= MELODY_HIGH for n in notes)
        assert all(b.start_beat >= a.end_beat - 1e-6 for a, b in zip(notes, notes[1:], strict=False))
        for n in notes:
            if meter.is_strong(n.start_beat):
                strong += 1
                hits += n.pitch % 12 in s.chord_at(n.start_beat).chord.pitch_classes
        assert sum(n.pitch % 12 in C.scale for n in notes) >= 0.85 * len(notes)
    assert hits / strong >= 0.6
    assert melody_originality(s)["generated_sections_longest_match_notes"] == 0


def test_verse_is_new_material_from_the_hums_motifs(model, hook):
    key_hook = make_hook(hook, beats_per_bar=4, key=C)
    chords = [Chord(0, 8, ChordSymbol(0)), Chord(8, 8, ChordSymbol(9, "min")),
              Chord(16, 8, ChordSymbol(5)), Chord(24, 8, ChordSymbol(7))]
    agree, same, checked = [], [], 0
    for seed in range(3):
        plan = plan_section("verse", key_hook, bars=8, meter=FOUR, rng=np.random.default_rng(seed))
        assert plan.slots and plan.free  # bars of the hum, and bars the model writes alone
        writer = SectionWriter(model, None, key_hook, key=C, meter=FOUR, chorus_chords=chords)
        notes = list(writer.write(plan, chords, seed=seed).notes)
        by_start = {n.start_beat: i for i, n in enumerate(notes)}
        for slot in plan.slots:  # the hum's rhythm is kept exactly
            assert slot.start in by_start
            i = by_start[slot.start]
            assert abs(notes[i].duration_beats - slot.duration) < 1e-6
            same.append(notes[i].pitch == slot.source_pitch)
            if slot.contour is not None and i > 0:
                agree.append(np.sign(notes[i].pitch - notes[i - 1].pitch) == np.sign(slot.contour))
        for span in plan.free:
            assert any(span.start <= n.start_beat < span.end for n in notes)
            checked += 1
    assert np.mean(agree) >= 0.85  # the hum's contour, up and down
    assert np.mean(same) < 0.5  # but new pitches for the verse's chords and register
    assert checked >= 3


def test_prechorus_climbs_towards_the_chorus(hook):
    # A bar of the hum sequenced upwards: the third bar sits higher than the first.
    climbs = 0
    for seed in range(3):
        s = compose(hook, key=C, tempo_bpm=96, seed=seed, length_s=170)
        pre = _sections(s, "prechorus")[0]
        notes = _notes(s, pre)

        def bar_mean(b, notes=notes, pre=pre):
            return np.mean([n.pitch for n in notes if b * 4 <= n.start_beat - pre.start_beat < b * 4 + 4])

        climbs += bar_mean(2) > bar_mean(0)
    assert climbs >= 2


def _hums():
    """The conftest phrase at three heights (the lowest once made the verse sit above the
    chorus), and a wide, leaping one in D major like the demo's."""
    base = [Note(0, 1, 64), Note(1, 1, 62), Note(2, 1, 60), Note(3, 1, 62), Note(4, 1, 64),
            Note(5, 1, 64), Note(6, 2, 64), Note(8, 1, 62), Note(9, 1, 62), Note(10, 2, 62),
            Note(12, 1, 64), Note(13, 1, 67), Note(14, 2, 67)]
    wide = [Note(a, d, p) for a, d, p in (
        (0, 1, 66), (1, 1, 69), (2, 1.5, 71), (3.5, 0.5, 69), (4, 1, 66), (5, 0.5, 64),
        (5.5, 0.5, 62), (6, 2, 64), (8, 1, 66), (9, 1, 69), (10, 1, 74), (11, 0.5, 73),
        (11.5, 0.5, 71), (12, 1, 69), (13, 0.5, 66), (13.5, 0.5, 64), (14, 2, 62))]
    return [(C, base), (Key(9), [replace(n, pitch=n.pitch - 3) for n in base]),
            (Key(4), [replace(n, pitch=n.pitch + 4) for n in base]), (Key(2), wide)]


@pytest.mark.parametrize("case", range(4))
def test_new_sections_sit_around_the_chorus_like_a_pop_song(case):
    # POP909: the verse's mean pitch sits a median 2.8 semitones below the chorus's. Ours:
    # every verse between 7 below and 2 above, the pre-chorus not above the chorus, and no new
    # line an octave away from the hum.
    key, hum = _hums()[case]
    below = []
    for seed in range(3):
        s = compose(hum, key=key, tempo_bpm=96, seed=seed, length_s=170)
        choruses = [n.pitch for c in _sections(s, "chorus") for n in _notes(s, c)]
        mean, low, high = np.mean(choruses), min(choruses), max(choruses)
        for sec in s.sections:
            if sec.kind not in ("verse", "prechorus", "bridge"):
                continue
            pitches = [n.pitch for n in _notes(s, sec)]
            assert low - 6 <= min(pitches) and max(pitches) <= high + 6, (sec.label, pitches)
            if sec.kind == "verse":
                assert -7 <= np.mean(pitches) - mean <= 2, (sec.label, np.mean(pitches) - mean)
                below.append(np.mean(pitches) < mean)
            if sec.kind == "prechorus":  # on its way up from the verse: not past the chorus
                assert -6 <= np.mean(pitches) - mean <= 1, (sec.label, np.mean(pitches) - mean)
    assert np.mean(below) >= 0.6  # mostly below, as in real songs


# ---------------------------------------------------------------- originality guard

def test_index_finds_a_copy_in_any_key_and_not_a_changed_note():
    tune = [Note(i * 0.5, 0.5, 60 + (i * 5) % 12) for i in range(20)]
    index = OriginalityIndex(build_index([tune]))
    copy = [replace(n, pitch=n.pitch + 3, start_beat=n.start_beat + 7) for n in tune[4:14]]
    m = index.longest_match(copy)
    assert m.found and m.notes == 10 and m.start == 0
    seven = index.longest_match(tune[:7])
    assert not seven.found
    altered = list(tune)
    for i in range(3, 20, 6):  # one note changed in every window of 8
        altered[i] = replace(altered[i], pitch=altered[i].pitch + 1)
    assert not index.longest_match(altered).found
    slower = [replace(n, start_beat=2 * n.start_beat) for n in tune]
    assert not index.longest_match(slower).found  # durations count, not just intervals
    assert len(window_hashes(tune)) == 13


def test_guard_rewrites_a_section_that_copies_a_training_song(model, hook):
    key_hook = make_hook(hook, beats_per_bar=4, key=C)
    chords = [Chord(0, 8, ChordSymbol(0)), Chord(8, 8, ChordSymbol(9, "min")),
              Chord(16, 8, ChordSymbol(5)), Chord(24, 8, ChordSymbol(7))]
    plan = plan_section("verse", key_hook, bars=8, meter=FOUR, rng=np.random.default_rng(1))
    free = SectionWriter(model, None, key_hook, key=C, meter=FOUR, chorus_chords=chords)
    first = free.write(plan, chords, seed=11)
    # Pretend the line the model just wrote is in a training song: the guard must avoid it.
    index = OriginalityIndex(build_index([list(first.notes)]))
    guarded = SectionWriter(model, index, key_hook, key=C, meter=FOUR, chorus_chords=chords)
    again = guarded.write(plan, chords, seed=11)
    assert index.longest_match(list(first.notes)).found
    assert not again.match.found and not index.longest_match(list(again.notes)).found
    assert again.attempts >= 2


def test_shipped_index_detects_a_melody_copied_from_a_training_song():
    song = load_lead_sheet(_pop909() / "001")
    index = OriginalityIndex.load()
    copied = [replace(n, pitch=n.pitch - 5) for n in song.notes[40:70]]  # another key
    match = index.longest_match(copied)
    assert match.found and match.notes >= 30
    # ... and song.json would say so: a "hum" that is that tune, composed into a song.
    hum = [n.shifted(-copied[0].start_beat // 4 * 4) for n in copied[:16]]
    s = compose(hum, key=Key(song.keys[0].key.tonic - 5 if song.keys[0].key.tonic >= 5
                             else song.keys[0].key.tonic + 7), tempo_bpm=90, length_s=90)
    report = melody_originality(s)
    assert report["longest_training_match_notes"] >= 16
    assert report["longest_match_section"] is not None
    assert report["generated_sections_longest_match_notes"] == 0  # the new lines are our own


def test_validation_songs_are_not_in_the_index():
    song = load_lead_sheet(_pop909() / "820")
    index = OriginalityIndex.load()
    hits = index.hits(song.notes)
    assert hits.mean() < 0.05  # only stock figures (scales, repeated notes) are shared


def test_sections_from_repetition():
    verse = [Note(b * 4 + i, 1, 60 + (i + b) % 3) for b in range(4) for i in range(4)]
    chorus = [Note(b * 4 + i * 2, 2, 69 + (i * 2 + b) % 5) for b in range(4) for i in range(2)]
    song = []
    for start, part in ((0, verse), (16, chorus), (32, verse), (48, chorus), (64, chorus)):
        song += [n.shifted(start) for n in part]
    sections = label_sections(song, beats_per_bar=4)
    kind_at = {int(s.start_beat // 4): s.kind for s in sections}
    assert kind_at[0] == "verse" and kind_at[4] == "chorus"
    chorus_bars = {b for s in sections if s.kind == "chorus"
                   for b in range(int(s.start_beat // 4), int(s.end_beat // 4))}
    assert {4, 12, 16} <= chorus_bars and not {0, 8} & chorus_bars
