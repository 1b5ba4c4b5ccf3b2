"""What a piece is made of: its lead melody, chords per beat, sections, key, tempo and feel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.restyle.lead import LeadScore, find_lead, skyline
from tunesmith.restyle.source import SourcePiece
from tunesmith.score import Chord, Note, Section, SungNote
from tunesmith.theory import Key

log = logging.getLogger(__name__)

PHRASE_BARS = 4
SAME_PHRASE = 0.5  # similarity at which two phrases count as the same material
ENERGY = {"intro": 0.3, "verse": 0.5, "prechorus": 0.65, "chorus": 0.85, "bridge": 0.6,
          "outro": 0.4}
LABELS = {"intro": "Intro", "verse": "Verse", "prechorus": "Pre-chorus", "chorus": "Chorus",
          "bridge": "Bridge", "outro": "Outro"}


@dataclass
class Analysis:
    melody: list[Note]
    chords: list[Chord]
    sections: list[Section]
    key: Key
    tempo_bpm: float
    beats_per_bar: int
    swing: float  # measured eighth-note swing ratio of the melody (0.5 straight)
    lead_part: str
    lead_ratings: list[LeadScore] = field(default_factory=list)
    phrase_labels: list[str] = field(default_factory=list)  # one letter per 4-bar phrase

    @property
    def length_beats(self) -> float:
        return max(s.end_beat for s in self.sections) if self.sections else 0.0


def analyze(piece: SourcePiece) -> Analysis:
    bpb = piece.beats_per_bar
    if piece.melody is not None:
        melody, lead_name, ratings = list(piece.melody), "melody", []
    else:
        index, ratings = find_lead(piece.parts, beats_per_bar=bpb)
        lead = piece.parts[index]
        melody, lead_name = skyline(lead.notes), lead.name
    pitched = [n for p in piece.parts if not p.is_drum for n in p.notes]
    poly = _poly_notes(pitched)
    key = piece.key if piece.kind == "score" and piece.key is not None else _estimate_key(poly)
    chords = list(piece.chords) or chords_from_notes(pitched, melody, poly=poly)
    end = max([n.end_beat for n in pitched] + [c.end_beat for c in chords] + [float(bpb)])
    n_bars = int(np.ceil(end / bpb - 1e-6))
    chords = _fill_gaps(chords, n_bars * bpb)
    sections, letters = find_sections(melody, chords, n_bars=n_bars, beats_per_bar=bpb)
    return Analysis(melody=melody, chords=chords, sections=sections, key=key,
                    tempo_bpm=piece.tempo_bpm, beats_per_bar=bpb,
                    swing=swing_ratio(melody), lead_part=lead_name, lead_ratings=ratings,
                    phrase_labels=letters)


def _poly_notes(notes: Sequence[Note]) -> list:
    """The notes as the recording analysers' `PolyNote`s (beats stand in for seconds)."""
    from tunesmith.listen.poly.notes import PolyNote

    return [PolyNote(n.start_beat, n.end_beat, float(n.pitch), int(n.velocity)) for n in notes]


def _estimate_key(poly: Sequence) -> Key:
    from tunesmith.listen.polyphonic import estimate_mix_key

    return estimate_mix_key(list(poly)).key


def chords_from_notes(notes: Sequence[Note], melody: Sequence[Note], *,
                      poly: Sequence | None = None) -> list[Chord]:
    """One chord per beat from every pitched note (the melody counts less), smoothed by the
    same HMM that reads chords out of recordings; beats stand in for seconds. `poly`: the
    same notes already converted by `_poly_notes` (converted here when not given)."""
    from tunesmith.listen.poly.chords import recognize_chords

    if not notes:
        return []
    poly = list(poly) if poly is not None else _poly_notes(notes)
    sung = [SungNote(n.start_beat, n.end_beat, float(n.pitch)) for n in melody]
    end = int(np.ceil(max(n.end_beat for n in notes)))
    timed = recognize_chords(poly, np.arange(0, end + 1, dtype=float), melody=sung)
    return [Chord(c.start_s, c.end_s - c.start_s, c.chord) for c in timed if c.chord is not None]


def _fill_gaps(chords: list[Chord], end: float) -> list[Chord]:
    """Chords cover the piece without holes: a chord lasts until the next one starts; the
    first one also covers any silence before it."""
    chords = sorted(chords, key=lambda c: c.start_beat)
    if not chords:
        return []
    out = []
    for i, c in enumerate(chords):
        start = 0.0 if i == 0 else c.start_beat
        stop = chords[i + 1].start_beat if i + 1 < len(chords) else max(end, c.end_beat)
        if stop - start > 1e-6:
            out.append(Chord(start, stop - start, c.chord))
    return out


def swing_ratio(melody: Sequence[Note]) -> float:
    """Where the off-beat eighths sit inside the beat (0.5 straight, 0.67 triplet swing): the
    median position of notes starting between 0.45 and 0.72 of a beat (sixteenths at 0.75 and
    triplets' last third are left out)."""
    fr = np.array([n.start_beat % 1.0 for n in melody])
    off = fr[(fr > 0.45) & (fr < 0.72)]
    return round(float(np.median(off)), 3) if off.size >= 4 else 0.5


def swung_eighths(melody: Sequence[Note], swing: float) -> bool:
    """True for swung eighths (long-short pairs), False for straight ones and for a triplet
    feel (notes on both the second and third triplet of a beat), which is kept as written."""
    if swing <= 0.54:
        return False
    fr = np.array([n.start_beat % 1.0 for n in melody])
    first = np.sum((fr > 0.28) & (fr < 0.39))
    second = np.sum((fr > 0.6) & (fr < 0.72))
    return bool(first < 0.3 * second)


def straighten(melody: Sequence[Note], *, swing: float) -> list[Note]:
    """Undo a measured swing: off-beat eighths move back to the middle of the beat (a triplet
    feel is left alone: its three notes to the beat are the tune's rhythm)."""
    if not swung_eighths(melody, swing):
        return list(melody)
    out = []
    for n in melody:
        beat, fr = divmod(n.start_beat, 1.0)
        start = n.start_beat
        if abs(fr - swing) < 0.08:
            start = beat + 0.5
        elif fr < 1e-6 and 0.95 * swing < n.duration_beats < 1.05 * swing:
            out.append(Note(start, 0.5, n.pitch, n.velocity))
            continue
        out.append(Note(start, n.end_beat - start, n.pitch, n.velocity))
    return out


# ------------------------------------------------------------------------------- sections

def _phrase_features(melody: Sequence[Note], chords: Sequence[Chord], *, start: float,
                     length: float) -> tuple[set[tuple[float, int]], list[int], int]:
    notes = {(round((n.start_beat - start) * 2) / 2, n.pitch) for n in melody
             if start - 1e-6 <= n.start_beat < start + length - 1e-6}
    roots = []
    for b in range(int(length)):
        beat = start + b + 0.01
        c = next((c for c in chords if c.start_beat <= beat < c.end_beat), None)
        roots.append(-1 if c is None else c.chord.root)
    return notes, roots, len(notes)


def _similarity(a: tuple[set, list[int], int], b: tuple[set, list[int], int]) -> float:
    """Melody (onset, pitch) overlap and per-beat chord roots, under the best transposition
    within a fourth (a last chorus lifted a step up is still the chorus)."""
    na, ra, ca = a
    nb, rb, cb = b
    best = 0.0
    for k in range(-5, 6):
        chord_sim = (float(np.mean([x == (y + k) % 12 if y >= 0 else x == y
                                    for x, y in zip(ra, rb, strict=False)])) if ra else 0.0)
        if ca == 0 and cb == 0:
            if k == 0:
                return chord_sim
            continue
        shifted = {(t, p + k) for t, p in nb}
        mel_sim = len(na & shifted) / max(len(na | shifted), 1)
        best = max(best, 0.6 * mel_sim + 0.4 * chord_sim)
    return best


def _letters(feats: list[tuple[set, list[int], int]]) -> list[str]:
    letters: list[str] = []
    reps: list[int] = []
    for i, f in enumerate(feats):
        match = next((j for j in reps if _similarity(feats[j], f) >= SAME_PHRASE), None)
        if match is None:
            reps.append(i)
            letters.append(chr(ord("A") + min(len(reps) - 1, 25)))
        else:
            letters.append(letters[match])
    return letters


def find_sections(melody: Sequence[Note], chords: Sequence[Chord], *, n_bars: int,
                  beats_per_bar: int) -> tuple[list[Section], list[str]]:
    """Sections from repetition: the piece is cut into 4-bar phrases (the grid shifted by the
    number of bars that makes most phrases repeat; bars before it join the intro), phrases
    with the same melody and chords share a letter; the most repeated, highest-sung material
    is the chorus, the first other material the verse, material heard once the bridge (or a
    pre-chorus when it always leads into the chorus), phrases without melody at the ends the
    intro and outro. A piece that never repeats has its second half called the chorus."""
    bar_beats = beats_per_bar * (2 if beats_per_bar <= 2 else 1)  # 2/4: count bars of 4/4
    plen = PHRASE_BARS * bar_beats
    song_end = n_bars * beats_per_bar
    best: tuple[int, list, list[str]] | None = None
    for shift in range(PHRASE_BARS):
        starts = [0.0] if shift else []
        starts += [float(shift * bar_beats + i * plen)
                   for i in range(int(np.ceil((song_end - shift * bar_beats) / plen)))]
        bounds = [*starts[1:], float(song_end)]
        feats = [_phrase_features(melody, chords, start=a, length=b - a)
                 for a, b in zip(starts, bounds, strict=True)]
        letters = _letters(feats)
        repeats = sum(letters.count(x) - 1 for x in set(letters))
        if best is None or repeats > best[0]:
            best = (repeats, list(zip(starts, feats, strict=True)), letters)
    assert best is not None
    _, phrases, letters = best
    feats = [f for _, f in phrases]
    starts = [a for a, _ in phrases]
    n_phr = len(feats)
    has_melody = [f[2] > 0 for f in feats]
    first_mel = next((i for i, m in enumerate(has_melody) if m), 0)
    last_mel = max((i for i, m in enumerate(has_melody) if m), default=n_phr - 1)
    sung_letters = [letters[i] for i in range(first_mel, last_mel + 1)]
    counts = {x: sung_letters.count(x) for x in set(sung_letters)}

    def height(letter: str) -> float:
        ps = [p for i, x in enumerate(letters) if x == letter for p in
              (q for _, q in feats[i][0])]
        return float(np.mean(ps)) if ps else 0.0

    chorus = None
    if counts and max(counts.values()) >= 2:
        repeated = [x for x, c in counts.items() if c >= 2]
        chorus = max(repeated, key=lambda x: (counts[x], height(x), sung_letters.index(x)))
    verse = next((x for x in sung_letters if x != chorus), None)
    kinds = []
    for i, x in enumerate(letters):
        if i < first_mel:
            kinds.append("intro")
        elif i > last_mel:
            kinds.append("outro")
        elif x == chorus:
            kinds.append("chorus")
        elif x == verse or counts.get(x, 0) >= 2:
            kinds.append("verse")
        else:
            kinds.append("bridge")
    for i in range(len(kinds)):
        if kinds[i] == "bridge" and i + 1 < len(kinds) and kinds[i + 1] == "chorus":
            later = [j for j, x in enumerate(letters) if x == letters[i]]
            if all(j + 1 < len(kinds) and kinds[j + 1] == "chorus" for j in later):
                kinds[i] = "prechorus"
    if chorus is None:  # nothing repeats: the second half becomes the chorus, so the form builds
        sung = [i for i, k in enumerate(kinds) if k not in ("intro", "outro")]
        for i in sung[len(sung) // 2:]:
            kinds[i] = "chorus"
    sections: list[Section] = []
    counter: dict[str, int] = {}
    for i, kind in enumerate(kinds):
        start = starts[i]
        stop = min(starts[i + 1] if i + 1 < n_phr else song_end, song_end)
        if stop - start < 1e-6:
            continue
        if sections and sections[-1].kind == kind:  # consecutive phrases of one kind: one section
            last = sections[-1]
            sections[-1] = Section(last.kind, last.label, last.start_beat, stop - last.start_beat,
                                   last.energy)
            continue
        counter[kind] = counter.get(kind, 0) + 1
        label = LABELS[kind] + (f" {counter[kind]}" if kind in ("verse", "chorus", "prechorus")
                                else "")
        sections.append(Section(kind, label, float(start), float(stop - start), ENERGY[kind]))
    return sections, letters
