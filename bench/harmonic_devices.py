"""How often do pop songwriters reach outside the key, and how? Device rates on POP909 training songs.

The song-level colour of `compose/variety.py` (secondary dominants, borrowed chords, the major IV
and V in minor, a pre-chorus or bridge that starts away from the tonic, a verse whose second
half does not repeat its first half's chords) is set from these rates, measured on the training
songs (001-800) only: the validation songs (801-850) judge the result (`bench/compose_stats.py`),
the test songs are never looked at here.

Counts are per chord (consecutive identical chords merged), in the key annotated at the chord's
start (`key_audio.txt`, modulations followed), over the chords inside the melody's span. A
secondary dominant is a major triad or dominant seventh outside the key on the degree a fifth
above a diatonic chord (II, III, VI, VII, and I7 in major); "resolves" means the next chord's
root is a fourth above it (its target). Sections come from the melody's repetition
(`pop909.label_sections`), so "verse" and "bridge" are approximate.

    python bench/harmonic_devices.py [--first 1 --last 800]
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from tunesmith.compose.pop909 import DatasetError, LabelledChord, load_lead_sheet, pop909_root

log = logging.getLogger("harmonic_devices")

MAJOR = "major"
# Degrees (semitones above the tonic) of the devices, with the triad quality they need.
SECONDARY_MAJOR = {2: "V/V", 4: "V/vi", 9: "V/ii", 11: "V/iii"}  # a major triad there is out of key
BORROWED_MAJOR = {(5, "min"): "iv", (10, "maj"): "bVII", (8, "maj"): "bVI", (3, "maj"): "bIII",
                  (0, "min"): "i"}
MINOR_MAJOR_CHORDS = {(5, "maj"): "IV (minor key)", (7, "maj"): "V (minor key)",
                      (0, "maj"): "I (minor key)"}
SECONDARY_MINOR = {2: "V/V (minor key)", 10: "V/bIII (minor key)"}  # II major; bVII7
FIRST_CHORD_BEATS = 2  # a section's first chord: the one sounding at its start


def triad(c: LabelledChord) -> str:
    """maj, min or other, from the chord's pitch classes."""
    has = {(p - c.root) % 12 for p in c.pitch_classes}
    if {4, 7} <= has:
        return "maj"
    if {3, 7} <= has:
        return "min"
    return "other"


def has_minor_seventh(c: LabelledChord) -> bool:
    return (c.root + 10) % 12 in c.pitch_classes


def device_of(c: LabelledChord, nxt: LabelledChord | None, tonic: int, mode: str,
              scale: set[int]) -> str | None:
    """The device a chord is (secondary dominant, borrowed chord, suspension...), or None
    (a plain diatonic chord, or something else outside the key)."""
    has = {(p - c.root) % 12 for p in c.pitch_classes}
    if not has & {3, 4} and 7 in has and c.pitch_classes <= scale:
        if 5 in has:
            return "sus4 (in key)"
        if 2 in has:
            return "sus2 (in key)"
    if c.pitch_classes <= scale:
        return None
    d = (c.root - tonic) % 12
    t = triad(c)
    if {3, 6} <= has and 4 not in has and 7 not in has:
        # a diminished chord outside the key: passing when its root is a semitone below the
        # next chord's (C - C#dim7 - Dm)
        if nxt is not None and (nxt.root - c.root) % 12 == 1:
            return "passing dim"
        return "dim (other)"
    if mode == MAJOR:
        if t == "maj" and d in SECONDARY_MAJOR:
            return SECONDARY_MAJOR[d]
        if t == "maj" and d == 0 and has_minor_seventh(c):
            return "V/IV (I7)"
        return BORROWED_MAJOR.get((d, t))
    if t == "maj" and d in SECONDARY_MINOR:
        return SECONDARY_MINOR[d]
    return MINOR_MAJOR_CHORDS.get((d, t))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--last", type=int, default=800)
    args = ap.parse_args()
    if args.last > 800:
        raise SystemExit("training songs only (001-800): the others judge the result")
    root: Path = pop909_root()
    chords_by_mode: Counter[str] = Counter()
    device_count: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    next_deg: dict[str, Counter[int]] = {}
    songs_with: Counter[str] = Counter()
    n_songs = 0
    distinct, nondiatonic_distinct, diatonic_share = [], [], []
    verse_pairs = verse_repeats = 0
    start_deg: dict[str, Counter[str]] = {"prechorus": Counter(), "bridge": Counter()}
    for sid in range(args.first, args.last + 1):
        folder = root / f"{sid:03d}"
        try:
            sheet = load_lead_sheet(folder)
        except (DatasetError, OSError, ValueError, StopIteration) as exc:
            log.warning("song %03d skipped: %s", sid, exc)
            continue
        if not sheet.notes:
            continue
        lo, hi = sheet.notes[0].start_beat, max(n.end_beat for n in sheet.notes)
        chords = [c for c in sheet.chords if c.end_beat > lo and c.start_beat < hi]
        if not chords:
            continue
        n_songs += 1
        found: set[str] = set()
        labels = set()
        outside = set()
        in_key = []
        for i, c in enumerate(chords):
            key = sheet.key_at(c.start_beat)
            scale = set(key.scale)
            nxt = chords[i + 1] if i + 1 < len(chords) else None
            chords_by_mode[key.mode] += 1
            label = (c.root, c.pitch_classes)
            labels.add(label)
            in_key.append(c.pitch_classes <= scale)
            if not in_key[-1]:
                outside.add(label)
            dev = device_of(c, nxt, key.tonic, key.mode, scale)
            if dev is None:
                continue
            device_count[dev] += 1
            found.add(dev)
            if nxt is not None:
                step = (nxt.root - c.root) % 12
                # a suspension resolves to its own root (Gsus4 -> G), the others a fourth up
                resolved[dev] += step == (0 if dev.startswith("sus") else 1 if "dim" in dev else 5)
                next_deg.setdefault(dev, Counter())[(nxt.root - key.tonic) % 12] += 1
        for dev in found:
            songs_with[dev] += 1
        distinct.append(len(labels))
        nondiatonic_distinct.append(len(outside))
        diatonic_share.append(float(np.mean(in_key)))
        bpb = sheet.beats_per_bar
        for s in sheet.sections:
            bars = int(round(s.duration_beats / bpb))
            if s.kind == "verse" and bars >= 8:
                for a in range(0, bars - 7, 8):
                    first = [_label_at(sheet, s.start_beat + (a * bpb) + b) for b in range(4 * bpb)]
                    second = [_label_at(sheet, s.start_beat + ((a + 4) * bpb) + b)
                              for b in range(4 * bpb)]
                    verse_pairs += 1
                    verse_repeats += first == second
            if s.kind in start_deg:
                c = sheet.chord_at(s.start_beat + 0.5)
                if c is not None:
                    key = sheet.key_at(s.start_beat)
                    start_deg[s.kind][_roman(c, key.tonic, key.mode)] += 1
    total = sum(chords_by_mode.values())
    log.info("POP909 training songs %03d-%03d: %d songs, %d chords (%d in major keys, %d in minor)",
             args.first, args.last, n_songs, total, chords_by_mode[MAJOR], chords_by_mode["minor"])
    log.info("per song: distinct chords %.1f, of them outside the key %.1f; diatonic share %.3f",
             np.mean(distinct), np.mean(nondiatonic_distinct), np.mean(diatonic_share))
    log.info("%-18s %9s %14s %12s %10s  %s", "device", "chords", "per 100 chords", "songs with",
             "resolves", "next chord (degree: count)")
    for dev, n in device_count.most_common():
        # suspensions are counted in both modes, the others in their own mode's chords
        mode_total = total if dev.startswith("sus") or "dim" in dev else chords_by_mode[
            "minor" if "minor" in dev else MAJOR]
        nd = ", ".join(f"{d}:{k}" for d, k in next_deg.get(dev, Counter()).most_common(4))
        log.info("%-18s %9d %14.2f %11.0f%% %9.0f%%  %s", dev, n, 100 * n / mode_total,
                 100 * songs_with[dev] / n_songs, 100 * resolved[dev] / max(n, 1), nd)
    log.info("verse 8-bar blocks whose bars 5-8 repeat bars 1-4's chords exactly: %d / %d (%.0f%%)",
             verse_repeats, verse_pairs, 100 * verse_repeats / max(verse_pairs, 1))
    for kind, counts in start_deg.items():
        n = sum(counts.values())
        log.info("%s first chord (%d sections): %s", kind, n,
                 ", ".join(f"{r} {100 * k / max(n, 1):.0f}%" for r, k in counts.most_common(6)))


def _label_at(sheet, beat: float) -> tuple[int, frozenset[int]] | None:
    c = sheet.chord_at(beat + 0.5)
    return None if c is None else (c.root, c.pitch_classes)


_NUMERALS = {0: "I", 1: "bII", 2: "II", 3: "bIII", 4: "III", 5: "IV", 6: "#IV", 7: "V", 8: "bVI",
             9: "VI", 10: "bVII", 11: "VII"}


def _roman(c: LabelledChord, tonic: int, mode: str) -> str:
    numeral = _NUMERALS[(c.root - tonic) % 12]
    return numeral.lower() if triad(c) == "min" else numeral


if __name__ == "__main__":
    main()
