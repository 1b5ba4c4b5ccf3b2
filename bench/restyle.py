"""Benchmark: restyle real songs and chorales, and measure that the melody survives and the
target style is really there.

Pieces: POP909 validation songs (801-850; MIDI tracks MELODY/BRIDGE/PIANO) and Bach chorales
from the music21 corpus. Target styles: jazz-swing, grunge, bossa-nova, string-quartet. For
every piece and style, measured on the arranged score (the notes the renderer plays):

- melody COnP F1 (mir_eval, 50 ms, 50 cents) of the arranged melody against the source's lead
  line with `--harmony keep`, after time alignment (the style's swing, the tempo change and
  the straightening of a swung or triplet source undone)
  and octave folding (an arrangement may put a section's tune an octave lower: each note is
  compared in the octave of the source note nearest in time); the arranged part that carries
  the tune is found by best match and named;
- jazz: share of seventh-or-richer chords and ii-V motions per chord change, with
  `--harmony style`, next to the same figures for the source and for the 1,382 iReal Pro jazz
  standards in ../shared/data/jazz-standards;
- swing ratio of the arranged off-beats (0.5 straight, 0.67 triplet);
- grunge: power-chord share of the guitar's struck chords;
- string quartet: independent voices (monophonic parts that are not copies of one another).

    python bench/restyle.py [DATA_DIR] [--songs N] [--chorales N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunesmith.arrange import arrange, load_style
from tunesmith.arrange.feel import swing_time, unswing_time
from tunesmith.restyle import analyze, read_source, restyle_lead_sheet
from tunesmith.restyle.analyze import swung_eighths
from tunesmith.restyle.source import SourcePiece, piece_from_music21
from tunesmith.score import Chord, Note, Score

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
STYLES = ("jazz-swing", "grunge", "bossa-nova", "string-quartet")
CHORALES = ("bach/bwv66.6", "bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv86.6",
            "bach/bwv40.8")
RICH = {"7", "maj7", "min7", "m7b5", "dim7", "6", "min6", "9"}
MINORISH = {"min", "min7", "m7b5", "min6"}
DOMINANT = {"7", "9"}


# ------------------------------------------------------------------ jazz-standard reference

_IREAL = re.compile(r"^([A-G][b#]?)(.*)$")
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _ireal_chord(text: str) -> tuple[int, str] | None:
    """(root pc, class) of an iReal chord: class 'ii' (minor/half-dim), 'dom', 'rich' or 'triad'."""
    m = _IREAL.match(text.strip())
    if not m:
        return None
    name, rest = m.groups()
    root = (_PC[name[0]] + (1 if "#" in name else -1 if "b" in name[1:] else 0)) % 12
    rest = rest.split("/")[0]
    minor = (rest.startswith(("-", "h", "ø"))
             or (rest.startswith("m") and not rest.startswith("maj")))
    rich = any(x in rest for x in ("7", "9", "11", "13", "6", "^", "h", "ø"))
    dom = (not minor and not rest.startswith(("^", "maj", "o", "0", "dim"))
           and any(x in rest for x in ("7", "9", "11", "13")))
    return root, ("ii" if minor else "dom" if dom else "rich" if rich else "triad") + \
        ("+" if rich else "")


def jazz_reference(path: Path) -> dict[str, float]:
    songs = json.loads(path.read_text(encoding="utf-8"))
    rich = total = iiv = changes = 0
    for song in songs:
        seq = []
        for sec in song.get("Sections", []):
            segs = [sec.get("MainSegment", {})] + list(sec.get("Endings", []))
            for seg in segs:
                for bar in seg.get("Chords", "").split("|"):
                    seq += [c for c in bar.split(",") if c.strip()]
        parsed = [p for p in (_ireal_chord(c) for c in seq) if p is not None]
        total += len(parsed)
        rich += sum(p[1].endswith("+") for p in parsed)
        for (ra, ca), (rb, cb) in zip(parsed, parsed[1:], strict=False):
            if (ra, ca) == (rb, cb):
                continue
            changes += 1
            iiv += ca.startswith("ii") and cb.startswith("dom") and (rb - ra) % 12 == 5
    return {"seventh_share": rich / max(total, 1), "ii_v_per_change": iiv / max(changes, 1),
            "songs": float(len(songs))}


def chord_stats(chords: Sequence[Chord]) -> dict[str, float]:
    seq = [c.chord for c in chords]
    rich = sum(c.quality in RICH for c in seq) / max(len(seq), 1)
    iiv = changes = 0
    for a, b in zip(seq, seq[1:], strict=False):
        if a == b:
            continue
        changes += 1
        iiv += a.quality in MINORISH and b.quality in DOMINANT and (b.root - a.root) % 12 == 5
    return {"seventh_share": rich, "ii_v_per_change": iiv / max(changes, 1)}


# ------------------------------------------------------------------------ score measures

def _swing(t: float, ratio: float) -> float:
    """The source's own swing (restyle plays swung eighths straight before restyling)."""
    return t if ratio <= 0.54 else swing_time(t, ratio, 0.5)


def melody_f1(source: Sequence[Note], arranged: Score, *, style: object, beat_scale: float,
              source_bpm: float, source_swing: float) -> tuple[float, str]:
    """Best COnP F1 of any arranged pitched part against the source melody, in source seconds."""
    import mir_eval

    spb = 60.0 / source_bpm

    def arrays(notes: Sequence[tuple[float, float, int]]) -> tuple[np.ndarray, np.ndarray]:
        iv = np.array([[s * spb, max(e, s + 0.01) * spb] for s, e, _ in notes]).reshape(-1, 2)
        hz = 440.0 * 2 ** ((np.array([p for _, _, p in notes]) - 69) / 12.0)
        return iv, hz

    ref_iv, ref_hz = arrays([(n.start_beat, n.end_beat, n.pitch) for n in source])
    ref_on = np.array([n.start_beat for n in source])
    ref_pitch = np.array([n.pitch for n in source])
    best, name = 0.0, ""
    ratio, unit = style.swing, style.swing_unit  # type: ignore[attr-defined]
    for t in arranged.tracks:
        if t.is_drum or not t.notes:
            continue
        # Octave-folded (chroma) pitch: an arranger may move a section's tune an octave;
        # each arranged note is compared in the octave of the source note nearest in time.
        est = []
        for n in t.notes:
            s = _swing(unswing_time(n.start_beat, ratio, unit) / beat_scale, source_swing)
            e = _swing(unswing_time(n.end_beat, ratio, unit) / beat_scale, source_swing)
            near = int(np.argmin(np.abs(ref_on - s)))
            est.append((s, e, n.pitch + 12 * round((ref_pitch[near] - n.pitch) / 12)))
        est_iv, est_hz = arrays(est)
        f1 = mir_eval.transcription.precision_recall_f1_overlap(
            ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=0.05, pitch_tolerance=50.0,
            offset_ratio=None)[2]
        if f1 > best:
            best, name = float(f1), t.name
    return best, name


def swing_of(score: Score) -> float:
    fr = np.array([n.start_beat % 1.0 for t in score.tracks if not t.is_drum for n in t.notes])
    off = fr[(fr > 0.45) & (fr < 0.8)]
    return float(np.median(off)) if off.size else 0.5


def power_chord_share(score: Score) -> float:
    groups = total = 0
    for t in score.tracks:
        if t.is_drum or t.role in ("melody", "bass", "lead"):
            continue
        onsets: dict[float, set[int]] = {}
        for n in t.notes:
            onsets.setdefault(round(n.start_beat, 2), set()).add(n.pitch % 12)
        for pcs in onsets.values():
            if len(pcs) < 2:
                continue  # single notes: riffs and arpeggios, not struck chords
            total += 1
            groups += len(pcs) == 2 and any((a - b) % 12 == 7 for a in pcs for b in pcs)
    return groups / max(total, 1)


def independent_voices(score: Score) -> int:
    voices = []
    for t in score.tracks:
        if t.is_drum or not t.notes:
            continue
        starts = [round(n.start_beat, 2) for n in t.notes]
        if (len(starts) - len(set(starts))) / len(starts) > 0.05:
            continue  # a part that plays chords is not one voice
        key = tuple((round(n.start_beat, 2), n.pitch % 12) for n in t.notes)
        if key not in voices:
            voices.append(key)
    return len(voices)


# --------------------------------------------------------------------------------- run

def pieces(data: Path, n_songs: int, n_chorales: int) -> list[tuple[str, SourcePiece]]:
    from music21 import corpus

    out = []
    for sid in range(801, 801 + n_songs):
        path = data / "pop909" / "POP909" / f"{sid:03d}" / f"{sid:03d}.mid"
        if path.is_file():
            out.append((f"pop909-{sid:03d}", read_source(path)))
    for name in CHORALES[:n_chorales]:
        out.append((name.replace("bach/", ""), piece_from_music21(corpus.parse(name), title=name)))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path,
                        default=Path(os.environ.get("TUNESMITH_DATA", DEFAULT_DATA)))
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--chorales", type=int, default=6)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    ref = jazz_reference(args.data / "jazz-standards" / "JazzStandards.json")
    rows = []
    t0 = time.perf_counter()
    for name, piece in pieces(args.data, args.songs, args.chorales):
        found = analyze(piece)
        src = chord_stats(found.chords)
        for style_name in STYLES:
            style = load_style(style_name)
            keep = restyle_lead_sheet(piece, style, harmony="keep", analysis=found)
            kept = arrange(keep.lead, keep.style, seed=1)
            f1, part = melody_f1(found.melody, kept, style=keep.style,
                                 beat_scale=keep.beat_scale, source_bpm=found.tempo_bpm,
                                 source_swing=found.swing if swung_eighths(found.melody, found.swing)
                                 else 0.5)
            styled = restyle_lead_sheet(piece, style, harmony="style", analysis=found)
            score = arrange(styled.lead, styled.style, seed=1)
            rows.append({"piece": name, "style": style_name, "f1": f1, "part": part,
                         "src": src, "out": chord_stats(score.chords), "swing": swing_of(score),
                         "power": power_chord_share(score),
                         "voices": independent_voices(score)})
    elapsed = time.perf_counter() - t0

    print(f"{len(rows) // len(STYLES)} pieces x {len(STYLES)} styles, {elapsed:.1f} s\n")
    print(f"{'piece':<14}{'style':<16}{'melody F1':>10}  {'(part)':<14}{'7th share':>10}"
          f"{'ii-V/chg':>10}{'swing':>8}{'power':>8}{'voices':>8}")
    for r in rows:
        print(f"{r['piece']:<14}{r['style']:<16}{r['f1']:>10.3f}  {r['part'][:13]:<14}"
              f"{r['out']['seventh_share']:>10.2f}{r['out']['ii_v_per_change']:>10.3f}"
              f"{r['swing']:>8.2f}{r['power']:>8.2f}{r['voices']:>8d}")

    print("\nper style (mean over pieces):")
    print(f"{'style':<16}{'melody F1':>10}{'min F1':>8}{'7th share':>10}{'ii-V/chg':>10}"
          f"{'swing':>8}{'power':>8}{'voices':>8}")
    for s in STYLES:
        rs = [r for r in rows if r["style"] == s]
        print(f"{s:<16}{np.mean([r['f1'] for r in rs]):>10.3f}{min(r['f1'] for r in rs):>8.3f}"
              f"{np.mean([r['out']['seventh_share'] for r in rs]):>10.2f}"
              f"{np.mean([r['out']['ii_v_per_change'] for r in rs]):>10.3f}"
              f"{np.mean([r['swing'] for r in rs]):>8.2f}{np.mean([r['power'] for r in rs]):>8.2f}"
              f"{np.mean([r['voices'] for r in rs]):>8.1f}")
    src_rows = {r["piece"]: r["src"] for r in rows}
    jazz = [r for r in rows if r["style"] == "jazz-swing"]
    src7 = np.mean([v["seventh_share"] for v in src_rows.values()])
    srciiv = np.mean([v["ii_v_per_change"] for v in src_rows.values()])
    out7 = np.mean([r["out"]["seventh_share"] for r in jazz])
    outiiv = np.mean([r["out"]["ii_v_per_change"] for r in jazz])
    print("\njazz harmony, side by side (seventh-or-richer share, ii-V motions per chord change):")
    print(f"{'source pieces (as found)':<34}{src7:>8.2f}{srciiv:>10.3f}")
    print(f"{'restyled to jazz-swing':<34}{out7:>8.2f}{outiiv:>10.3f}")
    label = f"jazz standards (iReal, {ref['songs']:.0f} songs)"
    print(f"{label:<34}{ref['seventh_share']:>8.2f}"
          f"{ref['ii_v_per_change']:>10.3f}")
    print(f"{'ratio restyled / standards':<34}{out7 / ref['seventh_share']:>8.2f}"
          f"{outiiv / max(ref['ii_v_per_change'], 1e-9):>10.2f}")


if __name__ == "__main__":
    main()
