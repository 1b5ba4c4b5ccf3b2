"""Do our songs look like real pop songs? Lead-sheet statistics, ours vs POP909, side by side.

For each POP909 validation song (ids 801-850, never the test split), the human lead sheet
(MELODY track + chord_midi.txt) gives the reference statistics. Our side takes the first four
bars of that song's melody as the "hum", composes a whole song from it (compose stage only: the
melody writer and the learned harmoniser, the song's key and tempo given) and measures the same
statistics on our lead sheet. Both sides are measured from the first melody note to the last
(instrumental intros and outros left out), chords included where they overlap that span.

    python bench/compose_stats.py [DATA_DIR] [--first 801 --last 850]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose import compose
from tunesmith.score import Note
from tunesmith.theory import Key, parse_pitch_class

_QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
            "sus2": (0, 2, 7), "sus4": (0, 5, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
            "min7": (0, 3, 7, 10), "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "maj6": (0, 4, 7, 9),
            "min6": (0, 3, 7, 9), "sus4(b7)": (0, 5, 7, 10), "minmaj7": (0, 3, 7, 11)}


@dataclass
class LeadSheet:
    melody: list[tuple[float, float, int]]  # start_beat, end_beat, pitch
    chords: list[tuple[float, float, frozenset[int], str]]  # start, end, pcs, label
    key: Key
    n_bars: float


def _chord_pcs(label: str) -> tuple[frozenset[int], str] | None:
    if label == "N":
        return None
    root_txt, _, rest = label.partition(":")
    quality = rest.split("/")[0]
    root = parse_pitch_class(root_txt)[0]
    iv = _QUALITY.get(quality, (0, 4, 7) if quality.startswith("maj") else (0, 3, 7))
    return frozenset((root + i) % 12 for i in iv), f"{root}:{quality}"


def load_pop909(folder: Path) -> tuple[LeadSheet, float]:
    import pretty_midi

    sid = folder.name
    pm = pretty_midi.PrettyMIDI(str(folder / f"{sid}.mid"))
    mel = next(i for i in pm.instruments if i.name.upper() == "MELODY")
    beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
    times = beats[:, 0]
    down = np.flatnonzero(beats[:, 2] == 1)
    first_down = int(down[0]) if len(down) else 0
    idx = np.arange(len(times), dtype=float) - first_down

    def to_beat(t: float) -> float:
        return float(np.interp(t, times, idx, left=idx[0] - (times[0] - t) / np.median(np.diff(times))))

    melody = [(to_beat(n.start), to_beat(n.end), n.pitch) for n in sorted(mel.notes, key=lambda n: n.start)]
    chords = []
    for line in (folder / "chord_midi.txt").read_text().splitlines():
        a, b, label = line.split("\t")
        parsed = _chord_pcs(label.strip())
        if parsed:
            chords.append((to_beat(float(a)), to_beat(float(b)), parsed[0], parsed[1]))
    key_line = (folder / "key_audio.txt").read_text().split("\n")[0].split("\t")
    ktxt = key_line[2].strip()
    key = Key(parse_pitch_class(ktxt)[0], "minor" if ktxt.endswith("min") else "major")
    tempo = 60.0 / float(np.median(np.diff(times)))
    lo, hi = max(0.0, melody[0][0]), max(m[1] for m in melody)
    # The chords over the bars measured: the song's instrumental intro and outro (no melody)
    # would add chord changes to a count divided by the melody's bars only.
    chords = [c for c in chords if c[1] > lo and c[0] < hi]
    return LeadSheet(melody, chords, key, (hi - lo) / 4), tempo


def hum_from(sheet: LeadSheet, bars: int = 4) -> list[Note]:
    """The first `bars` bars of melody, from the first downbeat at or before its first note."""
    start = np.floor(sheet.melody[0][0] / 4) * 4
    out = []
    for s, e, p in sheet.melody:
        if start <= s < start + 4 * bars:
            qs = round((s - start) * 4) / 4
            qe = max(qs + 0.25, round((e - start) * 4) / 4)
            out.append(Note(qs, qe - qs, p))
    return out


def stats(sheet: LeadSheet) -> dict[str, float]:
    mel = sheet.melody
    chord_tone = total = 0.0
    for s, e, p in mel:
        for cs, ce, pcs, _ in sheet.chords:
            ov = min(e, ce) - max(s, cs)
            if ov > 0:
                total += ov
                chord_tone += ov * (p % 12 in pcs)
    span_bars = max(sheet.n_bars, 1.0)
    labels = [c[3] for c in sheet.chords]
    changes = sum(1 for i in range(1, len(labels)) if labels[i] != labels[i - 1]) + 1
    scale = set(sheet.key.scale)
    diatonic = np.mean([c[2] <= scale for c in sheet.chords]) if sheet.chords else 0.0
    pitches = [p for _, _, p in mel]
    return {
        "chord-tone ratio": chord_tone / max(total, 1e-9),
        "chord changes / bar": changes / span_bars,
        "distinct chords": float(len(set(labels))),
        "diatonic chords": float(diatonic),
        "melody notes / bar": len(mel) / span_bars,
        "melody range (st)": float(np.percentile(pitches, 95) - np.percentile(pitches, 5)),
    }


def ours(sheet: LeadSheet, tempo: float) -> LeadSheet:
    hum = hum_from(sheet)
    score = compose(hum, key=sheet.key, tempo_bpm=tempo, length_s=150, seed=0)
    mel = [(n.start_beat, n.end_beat, n.pitch) for n in score.track("melody").notes]
    lo, hi = min(m[0] for m in mel), max(m[1] for m in mel)  # as for the human sheet
    chords = [(c.start_beat, c.end_beat, frozenset(c.chord.pitch_classes),
               f"{c.chord.root}:{c.chord.quality}") for c in score.chords
              if c.end_beat > lo and c.start_beat < hi]
    return LeadSheet(mel, chords, sheet.key, (hi - lo) / 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=os.environ.get("TUNESMITH_DATA", str(
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    ap.add_argument("--first", type=int, default=801)
    ap.add_argument("--last", type=int, default=850)
    args = ap.parse_args()
    root = Path(args.data) / "pop909" / "POP909"
    if not root.is_dir():
        raise SystemExit(f"POP909 not found under {args.data}")
    human_rows, our_rows = [], []
    for sid in range(args.first, args.last + 1):
        folder = root / f"{sid:03d}"
        if not folder.is_dir():
            continue
        sheet, tempo = load_pop909(folder)
        human_rows.append(stats(sheet))
        our_rows.append(stats(ours(sheet, tempo)))
    split = ("training" if args.last <= 800 else "validation" if args.first > 800 and args.last <= 850
             else "test" if args.first > 850 else "mixed-split")
    print(f"POP909 {split} songs {args.first}-{args.last}: {len(human_rows)} songs (mean ± sd)")
    print(f"{'statistic':<22} {'POP909 (human)':>18} {'tunesmith':>18} {'ratio':>7}")
    for k in human_rows[0]:
        h = np.array([r[k] for r in human_rows])
        o = np.array([r[k] for r in our_rows])
        print(f"{k:<22} {h.mean():10.2f} ± {h.std():5.2f} {o.mean():10.2f} ± {o.std():5.2f} "
              f"{o.mean() / max(h.mean(), 1e-9):7.2f}")


if __name__ == "__main__":
    main()
