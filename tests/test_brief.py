"""Reading a text prompt into a SongBrief (the MiniLM encoder plus explicit rules), and the
pieces that turn a brief into music: progressions, the hook writer, style adaptation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tunesmith.arrange import load_style, style_names
from tunesmith.brief import BriefError, BriefReader, SongBrief
from tunesmith.brief.hook import rule_score, write_hook
from tunesmith.brief.orchestra import adapt_style, finish_score, part_plays
from tunesmith.brief.progression import chorus_progression
from tunesmith.brief.song import _resize_intro
from tunesmith.score import Chord, Note, Score, Section, Track
from tunesmith.theory import ChordSymbol, Key


@pytest.fixture(scope="module")
def reader() -> BriefReader:
    return BriefReader()


def test_slow_sad_is_slower_and_darker_than_upbeat_happy(reader):
    sad = reader.understand("slow sad")
    happy = reader.understand("upbeat happy")
    assert sad.tempo_bpm < happy.tempo_bpm - 20
    assert sad.mood.valence < 0 < happy.mood.valence
    assert sad.mood.arousal < happy.mood.arousal
    assert sad.song_key.mode == "minor" and happy.song_key.mode == "major"
    assert sad.density < happy.density


def test_rainy_night_is_sad_slow_and_sparse(reader):
    b = reader.understand("rainy night, missing someone")
    assert b.mood.valence < -0.3
    assert b.tempo_class == "slow"
    assert b.density < 0.45
    assert b.song_key.mode == "minor"


def test_sunday_drive_is_bright_and_mid_tempo(reader):
    b = reader.understand("sunday morning drive with the windows down")
    assert b.mood.valence > 0.3
    assert b.tempo_class == "medium"
    assert b.song_key.mode == "major"


def test_explicit_bpm_wins_over_words(reader):
    b = reader.understand("a slow sad ballad at 140 bpm")
    assert b.tempo_bpm == 140 and b.tempo_source == "prompt"
    assert reader.understand("happy pop, tempo of 92").tempo_bpm == 92


def test_explicit_key_wins_over_mood(reader):
    b = reader.understand("an upbeat happy party song in D minor")
    assert b.key == "D minor" and b.key_source == "prompt"
    assert reader.understand("a sad ballad in the key of Bb major").song_key == Key(10, "major")
    # "a minor key" is the mode, not the note A.
    mode_only = reader.understand("a cheerful song in a minor key")
    assert mode_only.song_key.mode == "minor" and mode_only.key_source.startswith("prompt (mode)")


def test_negations_and_solo(reader):
    b = reader.understand("a chill pop song with no drums")
    assert "drums" in b.instruments_unwanted and "drums" not in b.instruments_wanted
    c = reader.understand("jazz without bass or drums, just a saxophone and piano")
    assert {"bass", "drums"} <= set(c.instruments_unwanted)
    assert {"saxophone", "piano"} <= set(c.instruments_wanted)
    s = reader.understand("solo piano, late at night")
    assert s.solo == "piano" and s.instruments_wanted == ("piano",)
    # A guitar solo over a band is a feature, not solo instrumentation.
    assert reader.understand("a rock band with a screaming guitar solo").solo is None


def test_length_meter_and_structure(reader):
    assert reader.understand("a two minute folk song").length_s == 120
    assert reader.understand("punk anthem, 1:45 long").length_s == 105
    assert reader.understand("a gentle lullaby in 6/8").time_signature == "6/8"
    if "waltz" in style_names():
        assert reader.understand("a waltz for my grandmother").time_signature == "3/4"
    b = reader.understand("cinematic piece with a long intro that builds to a big final chorus")
    assert "long intro" in b.structure and "big final chorus" in b.structure


@pytest.mark.parametrize(("prompt", "style"), [
    ("bossa nova on a beach in Rio", "bossa-nova"),
    ("aggressive heavy metal with double kick drums", "metal"),
    ("a swinging jazz trio in a smoky club", "jazz-swing"),
    ("lofi hip hop beats to study to", "lofi-hip-hop"),
])
def test_named_genres_pick_their_style(reader, prompt, style):
    if style not in style_names():
        pytest.skip(f"style {style} is not installed")
    b = reader.understand(prompt)
    assert b.style.name == style
    assert b.style.confidence > b.style.runner_up_confidence


def test_the_encoder_understands_without_keywords(reader):
    """No mood or genre word in the lexicon: only the sentence encoder can place these."""
    grief = reader.understand("standing at my father's funeral")
    party = reader.understand("kids laughing at a birthday party")
    assert grief.mood.valence < 0 < party.mood.valence


@pytest.mark.parametrize("prompt", ["", "   ", "!!! ???", "Трогательная песня о любви",
                                    "悲しい歌", "une chanson triste sous la pluie",
                                    "asdfgh qwrtzx vbnmkl"])
def test_prompts_we_cannot_read_get_a_clear_message(reader, prompt):
    with pytest.raises(BriefError) as err:
        reader.understand(prompt)
    message = str(err.value)
    assert "describe" in message or "English" in message


def test_unused_words_are_reported(reader):
    b = reader.understand("happy pop song about my spreadsheet")
    assert "spreadsheet" in b.unused_words
    assert "happy" not in b.unused_words


def test_brief_round_trips_through_json(reader):
    b = reader.understand("a slow sad piano ballad in D minor with no drums, 3 minutes")
    again = SongBrief.from_dict(json.loads(b.to_json()))
    assert again == b


# ---------------------------------------------------------------- music from a brief

def test_progressions_follow_mode_and_flavour():
    minor = chorus_progression(key=Key(2, "minor"), flavour="rich", valence=-0.8, arousal=-0.4,
                               bars=8, beats_per_bar=4, seed=3)
    assert len(minor) == 8 and minor[0].start_beat == 0 and minor[-1].end_beat == 32
    assert minor[-2].chord.root == (2 + 7) % 12  # V - i to close
    assert minor[-1].chord == ChordSymbol(2, "min")
    assert sum(c.chord.triad_quality == "min" for c in minor) >= 2
    jazzy = chorus_progression(key=Key(5), flavour="jazzy", valence=0.5, arousal=0.0, bars=4,
                               beats_per_bar=4, seed=1)
    assert all(len(c.chord.pitch_classes) >= 4 for c in jazzy)


def test_hook_is_singable_and_comes_home():
    key = Key(7, "major")
    prog = chorus_progression(key=key, flavour="simple", valence=0.6, arousal=0.3, bars=4,
                              beats_per_bar=4, seed=0)
    hook = write_hook(prog, key=key, valence=0.6, arousal=0.3, tempo_bpm=110, seed=4,
                      use_model=False)
    notes = list(hook.notes)
    assert hook.bars == 4
    home = key.tonic if key.tonic in prog[-1].chord.pitch_classes else prog[-1].chord.root
    assert notes[-1].pitch % 12 == home
    eight = chorus_progression(key=key, flavour="simple", valence=0.6, arousal=0.3, bars=8,
                               beats_per_bar=4, seed=0)
    long_hook = write_hook(eight, key=key, tempo_bpm=130, seed=4, use_model=False)
    assert long_hook.bars == 8 and long_hook.notes[-1].pitch % 12 == key.tonic
    assert all(0 <= n.start_beat < 16 and n.end_beat <= 16 + 1e-6 for n in notes)
    pitches = [n.pitch for n in notes]
    assert max(pitches) - min(pitches) <= 16
    strong = [n for n in notes if float(n.start_beat).is_integer()]
    on_chord = [n.pitch % 12 in prog[int(n.start_beat // 4)].chord.pitch_classes for n in strong]
    assert np.mean(on_chord) >= 0.75
    # The motif returns: bar 3 has bar 1's rhythm.
    bar = [[round(n.start_beat - 4 * b, 3) for n in notes if 4 * b <= n.start_beat < 4 * b + 4]
           for b in range(4)]
    assert bar[0] == bar[2]
    again = write_hook(prog, key=key, valence=0.6, arousal=0.3, tempo_bpm=110, seed=4,
                       use_model=False)
    assert again.notes == hook.notes


def test_calm_hooks_have_fewer_notes_than_energetic_ones():
    key = Key(0)
    prog = chorus_progression(key=key, flavour="simple", valence=0.3, arousal=0.0, bars=4,
                              beats_per_bar=4, seed=0)
    calm = [len(write_hook(prog, key=key, arousal=-0.8, density=0.2, tempo_bpm=70, seed=s,
                           use_model=False, candidates=8).notes) for s in range(4)]
    busy = [len(write_hook(prog, key=key, arousal=0.8, density=0.8, tempo_bpm=110, seed=s,
                           use_model=False, candidates=8).notes) for s in range(4)]
    assert np.mean(calm) < np.mean(busy)


def test_rule_score_prefers_chord_tones_and_steps():
    key = Key(0)
    prog = [Chord(4 * i, 4, ChordSymbol(r)) for i, r in enumerate((0, 5, 7, 0))]
    good = [Note(b, 1, p) for b, p in zip(range(16), [64, 65, 67, 65, 65, 64, 62, 64, 67, 65, 64,
                                                       62, 60, 62, 64, 60], strict=True)]
    jumpy = [Note(b, 1, p) for b, p in zip(range(16), [61, 75, 58, 73, 56, 78, 61, 70, 58, 75, 61,
                                                        77, 56, 70, 63, 60], strict=True)]
    assert rule_score(good, prog, beats_per_bar=4, key=key) > \
        rule_score(jumpy, prog, beats_per_bar=4, key=key)


def _brief(reader: BriefReader, prompt: str) -> SongBrief:
    return reader.understand(prompt)


def test_no_drums_removes_the_drum_part(reader):
    b = _brief(reader, "upbeat pop with no drums")
    style = adapt_style(load_style(b.style.name), b)
    assert not any(part_plays(p, "drums") for p in style.parts)
    assert style.drums is None
    assert any(p.pattern == "melody" for p in style.parts)


def test_solo_piano_is_one_piano_track(reader):
    b = _brief(reader, "solo piano, gentle and slow")
    style = adapt_style(load_style(b.style.name), b)
    assert all(0 <= p.program <= 7 for p in style.parts)
    tracks = [Track(p.name, program=p.program, notes=[Note(0, 1, 60 + i)], role=p.role)
              for i, p in enumerate(style.parts)]
    score = Score(tempo_bpm=80, key=Key(0), tracks=tracks)
    merged = finish_score(score, b)
    assert len(merged.tracks) == 1
    assert merged.tracks[0].name == "piano" and len(merged.tracks[0].notes) == len(tracks)


def test_wanted_lead_instrument_plays_the_melody(reader):
    b = _brief(reader, "a rock song with a saxophone")
    style = adapt_style(load_style(b.style.name), b)
    melody = next(p for p in style.parts if p.pattern == "melody")
    assert 64 <= melody.program <= 67


def test_an_instrument_that_names_the_song_plays_the_tune(reader):
    b = _brief(reader, "a slow, bittersweet piano ballad about leaving home")
    assert b.style.name == "pop-ballad" and b.lead == "piano" and "piano" in b.instruments_wanted
    melody = next(p for p in adapt_style(load_style(b.style.name), b).parts if p.pattern == "melody")
    assert 0 <= melody.program <= 7  # the piano, although it already plays the chords
    own = next(p for p in load_style("pop-ballad").parts if p.pattern == "melody")
    # only wanted, not named after: the style's own lead keeps the tune
    b = _brief(reader, "sad ballad with piano")
    assert b.lead is None and "piano" in b.instruments_wanted
    melody = next(p for p in adapt_style(load_style(b.style.name), b).parts if p.pattern == "melody")
    assert melody.program == own.program
    assert _brief(reader, "a trumpet jazz ballad").lead == "trumpet"
    assert _brief(reader, "solo piano ballad").lead is None  # solo: it plays everything anyway
    # a hyphenated compound no phrase list knows reads as its words; known ones stay whole
    b = _brief(reader, "a guitar-pop song")
    assert b.style.name == "pop" and b.lead == "guitar"
    assert _brief(reader, "lo-fi hip-hop beats to study to").style.name == "lofi-hip-hop"


def test_long_intro_doubles_the_intro():
    key = Key(0)
    lead = Score(tempo_bpm=100, key=key, tracks=[Track("melody", notes=[Note(8, 2, 64)])],
                 chords=[Chord(0, 4, ChordSymbol(5)), Chord(4, 4, ChordSymbol(7)),
                         Chord(8, 8, ChordSymbol(0))],
                 sections=[Section("intro", "Intro", 0, 8, 0.3), Section("verse", "Verse", 8, 8)])
    longer = _resize_intro(lead, factor=2.0)
    assert longer.sections[0].duration_beats == 16 and longer.sections[1].start_beat == 16
    assert longer.tracks[0].notes[0].start_beat == 16
    assert [c.chord.root for c in longer.chords] == [5, 7, 5, 7, 0]
    assert longer.chords[-1].start_beat == 16
