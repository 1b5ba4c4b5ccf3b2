"""Named harmony transformations a style applies when it restyles a song (`--harmony style`).

A style lists the rules it uses in its data file:

    [restyle]
    harmony = ["ii-v", "tritone-sub"]

Each rule maps a chord sheet to a chord sheet (beats unchanged) and is tested on its own. The
style's `extensions` table (I -> maj7, V -> 7...) is applied afterwards by `arrange` as usual.
Rules that add chords (ii-v) check the melody first: a chord is only put where the tune sounds
no avoid note against it (`clashes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tunesmith.errors import StyleError
from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

Rule = Callable[[list[Chord], "Context"], list[Chord]]


@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the chords: the key, the bar and the tune."""

    key: Key
    beats_per_bar: int
    melody: Sequence[Note] = ()


# Semitones above a chord's root that a melody note may sound over it without clashing: the
# chord's own tones plus its available tensions (jazz practice: no natural 11 over a dominant
# or major chord, no b9 over a minor one).
_TENSIONS = {"7": {1, 2, 3, 6, 8, 9}, "9": {1, 3, 6, 8, 9}, "min7": {2, 5, 9},
             "m7b5": {2, 5, 8}, "maj": {2, 6, 9, 11}, "min": {2, 5, 9, 10}}
MAX_CLASH = 0.2  # share of the span's melody time that may sound an avoid note


def clashes(chord: ChordSymbol, melody: Sequence[Note], start: float, end: float) -> float:
    """Share of the melody's time in [start, end) on notes that clash with `chord` (neither a
    chord tone nor an available tension); 0 when the melody rests there."""
    allowed = {(pc - chord.root) % 12 for pc in chord.pitch_classes}
    allowed |= _TENSIONS.get(chord.quality, set())
    total = bad = 0.0
    for n in melody:
        overlap = min(n.end_beat, end) - max(n.start_beat, start)
        if overlap <= 0:
            continue
        total += overlap
        bad += overlap * ((n.pitch - chord.root) % 12 not in allowed)
    return bad / total if total > 0 else 0.0

_TRIAD_OF = {"7": "maj", "maj7": "maj", "6": "maj", "9": "maj", "min7": "min", "min6": "min",
             "m7b5": "dim", "dim7": "dim"}
_MAJOR_LIKE = {"maj", "7", "maj7", "6", "9", "sus4", "sus2", "aug"}


def triads(chords: list[Chord], ctx: Context) -> list[Chord]:
    """Rock, punk, grunge: sevenths and sixths become plain triads (the guitars play power
    chords on them), slash basses are dropped."""
    return [replace(c, chord=ChordSymbol(c.chord.root, _TRIAD_OF.get(c.chord.quality,
                                                                     c.chord.quality)))
            for c in chords]


def _resolves_down_a_fifth(a: ChordSymbol, b: ChordSymbol) -> bool:
    return (a.root - b.root) % 12 == 7


def dominant_sevenths(chords: list[Chord], ctx: Context) -> list[Chord]:
    """A major chord that falls a fifth to the next chord becomes its dominant seventh (V->I,
    and secondary dominants such as D->G in C)."""
    out = list(chords)
    for i in range(len(out) - 1):
        a, b = out[i].chord, out[i + 1].chord
        if a.quality in ("maj", "9") and _resolves_down_a_fifth(a, b):
            out[i] = replace(out[i], chord=ChordSymbol(a.root, "7"))
    return out


def ii_v(chords: list[Chord], ctx: Context) -> list[Chord]:
    """Approach chords. A chord held for a bar or more that moves to a new harmony (not already
    by its own dominant) gives its last half bar (or last bar, when it lasts three bars or more)
    to the ii-V of the next chord: ii for the first half of that time, V7 for the second. A
    shorter chord (two beats or more) that already does the ii's job (shares two notes with
    it, as IV does) becomes the ii-V itself. Nothing is added where the tune would clash."""
    bpb = ctx.beats_per_bar
    out: list[Chord] = []
    for i, c in enumerate(chords):
        nxt = chords[i + 1] if i + 1 < len(chords) else None
        if (nxt is None or c.duration_beats < 2 - 1e-6
                or nxt.start_beat - c.end_beat > 1e-6
                or _resolves_down_a_fifth(c.chord, nxt.chord) or nxt.chord.root == c.chord.root
                or nxt.chord.quality in ("dim", "dim7", "aug")):
            out.append(c)
            continue
        target = nxt.chord
        v = ChordSymbol((target.root + 7) % 12, "7")
        minor_target = target.quality in ("min", "min7", "min6")
        ii = ChordSymbol((target.root + 2) % 12, "m7b5" if minor_target else "min7")
        if c.duration_beats >= bpb - 1e-6:
            span = float(bpb) if c.duration_beats >= 3 * bpb else bpb / 2
            span = max(span, 1.0)
        elif len(set(c.chord.pitch_classes) & set(ii.pitch_classes)) >= 2:
            span = c.duration_beats
        else:
            out.append(c)
            continue
        head = c.duration_beats - span
        t0 = c.start_beat + head
        half = span / 2
        parts = [(t0, half, ii), (t0 + half, half, v)] if span >= 2 else [(t0, span, v)]
        if any(clashes(ch, ctx.melody, s0, s0 + d) > MAX_CLASH for s0, d, ch in parts):
            out.append(c)
            continue
        if head > 1e-6:
            out.append(replace(c, duration_beats=head))
        out += [Chord(s0, d, ch) for s0, d, ch in parts]
    return out


def ii_before_v(chords: list[Chord], ctx: Context) -> list[Chord]:
    """The chord before a dominant seventh becomes that dominant's ii7 when it shares two or
    more notes with it (IV -> V7 becomes ii7 -> V7); otherwise, when it lasts two beats or
    more, its second half does."""
    out: list[Chord] = []
    for i, c in enumerate(chords):
        nxt = chords[i + 1] if i + 1 < len(chords) else None
        if nxt is None or nxt.chord.quality not in ("7", "9") or \
                nxt.start_beat - c.end_beat > 1e-6:
            out.append(c)
            continue
        ii = ChordSymbol((nxt.chord.root + 7) % 12, "min7")
        if c.chord.root == ii.root and c.chord.quality in ("min", "min7", "m7b5", "min6"):
            out.append(c)
        elif len(set(c.chord.pitch_classes) & set(ii.pitch_classes)) >= 2:
            out.append(replace(c, chord=ii))
        elif c.duration_beats >= 2:
            half = c.duration_beats / 2
            out.append(replace(c, duration_beats=half))
            out.append(Chord(c.start_beat + half, c.duration_beats - half, ii))
        else:
            out.append(c)
    return out


def tritone_sub(chords: list[Chord], ctx: Context) -> list[Chord]:
    """Every second dominant seventh that resolves down a fifth is replaced by the dominant a
    tritone away (G7 -> C becomes Db7 -> C): a chromatic bass step into the target."""
    out = list(chords)
    count = 0
    for i in range(len(out) - 1):
        a, b = out[i].chord, out[i + 1].chord
        if a.quality in ("7", "9") and _resolves_down_a_fifth(a, b):
            count += 1
            if count % 2 == 0:
                out[i] = replace(out[i], chord=ChordSymbol((a.root + 6) % 12, a.quality))
    return out


def blues_dominants(chords: list[Chord], ctx: Context) -> list[Chord]:
    """Blues, gospel and funk colour: major chords on I, IV and V become dominant sevenths."""
    key = ctx.key
    degrees = {key.tonic, (key.tonic + 5) % 12, (key.tonic + 7) % 12}
    return [replace(c, chord=ChordSymbol(c.chord.root, "7", c.chord.bass))
            if c.chord.quality == "maj" and c.chord.root in degrees else c for c in chords]


def sus_resolutions(chords: list[Chord], ctx: Context) -> list[Chord]:
    """Gospel and cinematic cadences: the dominant (V), held a bar or more, is first suspended
    (sus4 for its first half) and then resolved."""
    dominant = (ctx.key.tonic + 7) % 12
    out: list[Chord] = []
    for c in chords:
        if (c.chord.root == dominant and c.chord.quality in ("7", "maj", "9")
                and c.duration_beats >= ctx.beats_per_bar - 1e-6):
            half = c.duration_beats / 2
            out.append(replace(c, duration_beats=half, chord=ChordSymbol(c.chord.root, "sus4")))
            out.append(Chord(c.start_beat + half, c.duration_beats - half, c.chord))
        else:
            out.append(c)
    return out


RULES: dict[str, Rule] = {
    "triads": triads,
    "dominant-sevenths": dominant_sevenths,
    "ii-v": ii_v,
    "ii-before-v": ii_before_v,
    "tritone-sub": tritone_sub,
    "blues-dominants": blues_dominants,
    "sus-resolutions": sus_resolutions,
}


def apply_rules(chords: Sequence[Chord], names: Sequence[str], *, key: Key,
                beats_per_bar: int, melody: Sequence[Note] = ()) -> list[Chord]:
    """Apply the named rules in order (`melody`: the tune the chords go with, so that added
    chords do not clash with it); an unknown name is a style-file error."""
    ctx = Context(key, beats_per_bar, tuple(melody))
    out = sorted(chords, key=lambda c: c.start_beat)
    for name in names:
        rule = RULES.get(name)
        if rule is None:
            raise StyleError(f"unknown restyle harmony rule '{name}'; known rules: "
                             f"{', '.join(sorted(RULES))}")
        out = rule(out, ctx)
    return out
