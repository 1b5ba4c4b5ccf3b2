import pytest

from tunesmith.theory import CHORD_QUALITIES, ChordSymbol, Key, TheoryError, voice_chord


@pytest.mark.parametrize("text,tonic,mode", [("C", 0, "major"), ("Am", 9, "minor"),
                                             ("F# major", 6, "major"), ("Bb minor", 10, "minor"),
                                             ("eb min", 3, "minor")])
def test_key_parse(text, tonic, mode):
    k = Key.parse(text)
    assert (k.tonic, k.mode) == (tonic, mode)


def test_key_names_use_conventional_spelling():
    assert Key(10, "major").name == "Bb major"
    assert Key(6, "minor").name == "F# minor"
    assert Key(9, "minor").scale == (9, 11, 0, 2, 4, 5, 7)


def test_bad_key_is_a_clear_error():
    with pytest.raises(TheoryError, match="key"):
        Key.parse("C lydian-ish")


@pytest.mark.parametrize("root", range(12))
@pytest.mark.parametrize("quality", sorted(CHORD_QUALITIES))
def test_chord_symbol_round_trip(root, quality):
    c = ChordSymbol(root, quality)
    assert ChordSymbol.parse(c.symbol()) == c
    assert ChordSymbol.parse(c.symbol(flats=True)) == c


def test_slash_chord_and_pitch_classes():
    c = ChordSymbol.parse("C/E")
    assert c.bass_pc == 4 and c.pitch_classes == (0, 4, 7)
    assert ChordSymbol.parse("Bm7b5").pitch_classes == (11, 2, 5, 9)


def test_voice_leading_moves_little():
    prev = voice_chord(ChordSymbol(0, "maj"), low=55, high=76)
    nxt = voice_chord(ChordSymbol(5, "maj"), low=55, high=76, previous=prev)
    assert sorted(p % 12 for p in nxt) == [0, 5, 9]
    assert sum(min(abs(p - q) for q in prev) for p in nxt) <= 3
