"""Melody model benchmark: likelihood on POP909 test songs, and generated songs vs real ones.

1. Negative log-likelihood per note (bits) on POP909 test songs 851-909: our melody model
   against a variable-order Markov baseline (PPM-C with exclusion, orders up to 5, its order
   chosen on validation 801-850) trained on the same songs (001-800) over the same note events
   (gap, duration, interval). The headline is the whole event; the breakdown compares our
   interval head (which also knows the note's rhythm, chord and place in the bar) with PPM on
   the interval stream alone, and our gap+duration heads with PPM on the rhythm stream alone.
2. Statistics of generated songs against real ones: for each validation song (801-850), the
   first four bars of its first (repetition-labelled) chorus are the "hum"; compose() writes a
   song from it (key, tempo and meter of the real song, form pop, 3 minutes, seed 0), once with
   the melody model and once with the previous rule-based writer; the real song's own melody is
   the reference. Pitch-class entropy, distance of the interval histogram from POP909's
   (Jensen-Shannon, bits), notes per bar, share of bars repeating an earlier bar, chord-tone
   ratio of notes on strong beats, longest run shared with a training song.
3. Register: where the verse sits against the chorus. Human and generated songs are labelled
   by the same pitch-blind rule (`blind_sections`: the chorus is the most repeated 4-bar
   passage, ties to the one that recurs latest; the verse is what is sung before its first
   occurrence), so the pitch preference of `pop909.label_sections` cannot decide the answer.
   Mean pitch of the verse minus the chorus (semitones) and the share of songs whose verse is
   above; then, for the generated songs by their own section labels, verse, pre-chorus and
   bridge against the chorus and how far new sections go beyond the hum's range.

    python bench/melody.py [DATA_DIR] [--limit N] [--max-order 5] [--skip-nll] [--skip-songs]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.compose import compose, melody_originality
from tunesmith.compose.melody_model import (
    N_DUR,
    N_GAP,
    N_INT,
    MelodyModel,
    encode,
    events,
)
from tunesmith.compose.meter import Meter
from tunesmith.compose.originality import NGRAM_NOTES, OriginalityIndex
from tunesmith.compose.pop909 import (
    LeadSheet,
    _bar_sets,
    _extend,
    _similarity,
    default_data_dir,
    load_split,
    repeats_of,
    sheet_contexts,
)
from tunesmith.score import Note, Score

LN2 = math.log(2)


# ---------------------------------------------------------------- PPM-C baseline

class PPM:
    """Prediction by partial matching, escape method C, with exclusion; orders 0..max_order,
    then a uniform order -1 over the alphabet."""

    def __init__(self, alphabet: int, max_order: int) -> None:
        self.alphabet = alphabet
        self.max_order = max_order
        self.tables: list[dict[tuple[int, ...], dict[int, int]]] = [
            defaultdict(dict) for _ in range(max_order + 1)]

    def train(self, seq: Sequence[int]) -> None:
        for i, x in enumerate(seq):
            for k in range(min(self.max_order, i) + 1):
                table = self.tables[k][tuple(seq[i - k:i])]
                table[x] = table.get(x, 0) + 1

    def prob(self, history: Sequence[int], x: int, order: int | None = None) -> float:
        escape = 1.0
        excluded: set[int] = set()
        top = self.max_order if order is None else order
        for k in range(min(top, len(history)), -1, -1):
            table = self.tables[k].get(tuple(history[len(history) - k:]))
            if not table:
                continue
            total = sum(c for s, c in table.items() if s not in excluded)
            distinct = sum(1 for s in table if s not in excluded)
            if distinct == 0:
                continue
            if x in table and x not in excluded:
                return escape * table[x] / (total + distinct)
            escape *= distinct / (total + distinct)
            excluded.update(table)
        return escape / (self.alphabet - len(excluded))

    def _add(self, seq: Sequence[int], i: int, delta: int) -> None:
        x = seq[i]
        for k in range(min(self.max_order, i) + 1):
            table = self.tables[k][tuple(seq[i - k:i])]
            table[x] = table.get(x, 0) + delta
            if table[x] <= 0:
                del table[x]

    def bits(self, seq: Sequence[int], *, skip_first: int = 1, adaptive: bool = False,
             order: int | None = None) -> np.ndarray:
        """Bits per symbol; `adaptive` also learns from the song while reading it (as PPM
        does when compressing; IDyOM's long-term + short-term model), then forgets it."""
        out = []
        for i, x in enumerate(seq):
            if i >= skip_first:
                out.append(-math.log2(self.prob(seq[max(0, i - self.max_order):i], x, order)))
            if adaptive:
                self._add(seq, i, +1)
        if adaptive:
            for i in range(len(seq)):
                self._add(seq, i, -1)
        return np.array(out)


def _streams(sheet: LeadSheet) -> dict[str, list[int]]:
    evs = events(sheet.notes)
    return {"joint": [(e.gap * N_DUR + e.dur) * N_INT + e.interval for e in evs],
            "interval": [e.interval for e in evs],
            "rhythm": [e.gap * N_DUR + e.dur for e in evs]}


ALPHABETS = {"joint": N_GAP * N_DUR * N_INT, "interval": N_INT, "rhythm": N_GAP * N_DUR}


def nll_bench(train: list[LeadSheet], valid: list[LeadSheet], test: list[LeadSheet],
              max_order: int) -> None:
    model = MelodyModel.load()
    t0 = time.perf_counter()
    ours = []
    for s in test:
        ll = model.note_log_likelihood(encode(s.notes, sheet_contexts(s),
                                              Meter(s.beats_per_bar, s.compound)))
        ours.append(-ll[1:] / LN2)
    ours_bits = np.concatenate(ours)
    t_ours = time.perf_counter() - t0
    rows = {"joint": ours_bits.sum(1), "interval": ours_bits[:, 2],
            "rhythm": ours_bits[:, 0] + ours_bits[:, 1]}
    print(f"\nNegative log-likelihood on POP909 test ({len(test)} songs, "
          f"{len(ours_bits)} notes), bits per note (lower is better)")
    print(f"{'event':<28} {'tunesmith GRU':>14} {'PPM-C':>10} {'order':>6} {'ratio':>7} "
          f"{'PPM-C adaptive':>15} {'ratio':>7}")
    for stream in ("joint", "interval", "rhythm"):
        ppm = PPM(ALPHABETS[stream], max_order)
        for s in train:
            ppm.train(_streams(s)[stream])
        best_order, best_bits = 0, math.inf
        for order in range(1, max_order + 1):  # the order is chosen on validation
            v = np.concatenate([ppm.bits(_streams(s)[stream], order=order) for s in valid]).mean()
            if v < best_bits:
                best_order, best_bits = order, v
        t1 = time.perf_counter()
        ppm_bits = np.concatenate([ppm.bits(_streams(s)[stream], order=best_order) for s in test])
        t_ppm = time.perf_counter() - t1
        adaptive = np.concatenate([ppm.bits(_streams(s)[stream], adaptive=True, order=best_order)
                                   for s in test])
        name = {"joint": "note (gap+duration+interval)", "interval": "interval only",
                "rhythm": "gap + duration only"}[stream]
        ours_mean = rows[stream].mean()
        print(f"{name:<28} {ours_mean:14.3f} {ppm_bits.mean():10.3f} {best_order:6d} "
              f"{ours_mean / ppm_bits.mean():7.2f} {adaptive.mean():15.3f} "
              f"{ours_mean / adaptive.mean():7.2f}")
        if stream == "joint":
            print(f"{'  (scoring time, s)':<28} {t_ours:14.1f} {t_ppm:10.1f}")


# ---------------------------------------------------------------- song statistics

@dataclass
class Sheet:
    """A melody with its chords as pitch-class sets, for statistics."""

    notes: list[Note]
    chords: list[tuple[float, float, frozenset[int]]]
    meter: Meter
    tonic: int


def _from_score(score: Score) -> Sheet:
    return Sheet(list(score.track("melody").notes),
                 [(c.start_beat, c.end_beat, frozenset(c.chord.pitch_classes)) for c in score.chords],
                 Meter(score.beats_per_bar, score.compound), score.key.tonic)


def _from_lead_sheet(s: LeadSheet) -> Sheet:
    return Sheet([n for n in s.notes if n.start_beat >= 0],
                 [(c.start_beat, c.end_beat, c.pitch_classes) for c in s.chords],
                 Meter(s.beats_per_bar, s.compound), s.keys[0].key.tonic)


def interval_histogram(notes: Sequence[Note]) -> np.ndarray:
    h = np.zeros(25)
    for a, b in zip(notes, notes[1:], strict=False):
        h[int(np.clip(b.pitch - a.pitch, -12, 12)) + 12] += 1
    return h / max(h.sum(), 1)


def _js_bits(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def song_stats(sheet: Sheet, reference_intervals: np.ndarray,
               index: OriginalityIndex) -> dict[str, float]:
    notes = sheet.notes
    bpb = sheet.meter.beats_per_bar
    pcs = np.bincount([(n.pitch - sheet.tonic) % 12 for n in notes], minlength=12).astype(float)
    pcs /= pcs.sum()
    entropy = float(-np.sum(pcs[pcs > 0] * np.log2(pcs[pcs > 0])))
    bars: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for n in notes:
        b = int(n.start_beat // bpb)
        bars[b].append((round(n.start_beat - b * bpb, 2), n.pitch))
    contents = [tuple(bars[b]) for b in sorted(bars)]
    seen: set[tuple[tuple[float, int], ...]] = set()
    repeats = 0
    for c in contents:
        repeats += c in seen
        seen.add(c)
    strong = hits = 0
    for n in notes:
        if not sheet.meter.is_strong(n.start_beat):
            continue
        chord = next((pcs_ for a, b, pcs_ in sheet.chords if a - 1e-6 <= n.start_beat < b), None)
        if chord is None:
            continue
        strong += 1
        hits += n.pitch % 12 in chord
    return {
        "pitch-class entropy (bits)": entropy,
        "interval histogram JS (bits)": _js_bits(interval_histogram(notes), reference_intervals),
        "notes per sung bar": len(notes) / max(len(bars), 1),
        "bars repeating an earlier bar": repeats / max(len(contents), 1),
        "chord tones on strong beats": hits / max(strong, 1),
        "longest training match (notes)": float(index.longest_match(notes).notes),
    }


# ---------------------------------------------------------------- register

def _most_repeated(sim: np.ndarray, free: np.ndarray, window: int,
                   threshold: float = 0.6) -> list[int]:
    """Start bars of the `window`-bar passage with the most non-overlapping repeats, ties to
    the one that recurs latest (songs end on their chorus); pitch plays no part."""
    n = len(free)
    best: tuple[int, int, list[int]] = (0, 0, [])
    for s in range(n - window + 1):
        if not free[s:s + window].all():
            continue
        starts = repeats_of(sim, free, window, s, threshold)
        if len(starts) >= 2 and (len(starts), max(starts)) > best[:2]:
            best = (len(starts), max(starts), starts)
    return sorted(best[2])


def blind_sections(notes: Sequence[Note], beats_per_bar: int,
                   window: int = 4) -> tuple[list[Note], list[Note]] | None:
    """(verse notes, chorus notes) by repetition alone: the chorus is the most repeated passage
    (grown bar by bar while its repeats agree), the verse what is sung before it first comes.
    None when nothing repeats or fewer than 8 notes come first."""
    notes = sorted((n for n in notes if n.start_beat >= 0), key=lambda n: n.start_beat)
    if not notes:
        return None
    n_bars = int(max(n.end_beat for n in notes) // beats_per_bar) + 1
    bars = _bar_sets(notes, beats_per_bar, n_bars)
    free = np.array([bool(b) for b in bars])
    sim = _similarity(bars)
    spans = _extend(_most_repeated(sim, free, window), sim, free, window)
    if not spans:
        return None
    first = min(a for a, _ in spans) * beats_per_bar
    chorus = [n for n in notes if any(a * beats_per_bar <= n.start_beat < b * beats_per_bar
                                      for a, b in spans)]
    verse = [n for n in notes if n.start_beat < first]
    return (verse, chorus) if len(verse) >= 8 else None


def register_stats(notes: Sequence[Note], beats_per_bar: int) -> dict[str, float]:
    """Verse against chorus by `blind_sections` (empty when the song has no such verse)."""
    parts = blind_sections(notes, beats_per_bar)
    if parts is None:
        return {}
    verse, chorus = (np.mean([n.pitch for n in p]) for p in parts)
    return {"verse - chorus mean pitch (st)": float(verse - chorus),
            "songs with the verse above the chorus": float(verse > chorus)}


def section_register(score: Score) -> dict[str, float]:
    """A generated song by its own section labels: mean pitch of each new kind of section minus
    the choruses', and how far new sections reach below and above the hum's range."""
    notes = score.track("melody").notes

    def pitches(kind: str) -> list[int]:
        return [n.pitch for s in score.sections if s.kind == kind for n in notes
                if s.start_beat <= n.start_beat < s.end_beat]

    chorus = pitches("chorus")
    out: dict[str, float] = {}
    if not chorus:
        return out
    new: list[int] = []
    for kind in ("verse", "prechorus", "bridge"):
        p = pitches(kind)
        new += p
        if p:
            out[kind] = float(np.mean(p) - np.mean(chorus))
    if new:
        out["below"] = float(min(chorus) - min(new))
        out["above"] = float(max(new) - max(chorus))
    pre = next((s for s in score.sections if s.kind == "prechorus"), None)
    if pre is not None:
        mid = pre.start_beat + pre.duration_beats / 2
        halves = [[n.pitch for n in notes if a <= n.start_beat < b]
                  for a, b in ((pre.start_beat, mid), (mid, pre.end_beat))]
        if all(halves):
            out["prechorus rise"] = float(np.mean(halves[1]) - np.mean(halves[0]))
    return out


def chorus_hum(sheet: LeadSheet, bars: int = 4) -> list[Note]:
    """The first `bars` bars of the first labelled chorus (else of the melody), from beat 0."""
    bpb = sheet.beats_per_bar
    chorus = next((s for s in sheet.sections if s.kind == "chorus"), None)
    first = [n for n in sheet.notes if n.start_beat >= 0]
    start = chorus.start_beat if chorus else math.floor(first[0].start_beat / bpb) * bpb
    return [Note(n.start_beat - start, n.duration_beats, n.pitch, 90)
            for n in sheet.notes if start <= n.start_beat < start + bars * bpb]


def songs_bench(train: list[LeadSheet], valid: list[LeadSheet], length_s: float) -> None:
    index = OriginalityIndex.load()
    reference = np.sum([interval_histogram(s.notes) * len(s.notes) for s in train], axis=0)
    reference /= reference.sum()
    rows: dict[str, list[dict[str, float]]] = {"human": [], "model": [], "rules": []}
    registers: dict[str, list[dict[str, float]]] = {"human": [], "model": [], "rules": []}
    by_label: dict[str, list[dict[str, float]]] = {"model": [], "rules": []}
    times, harmony_times, generated_match = [], [], []
    import tunesmith.compose as compose_stage

    real_harmonize = compose_stage.harmonize
    spent = [0.0]

    def timed_harmonize(*args, **kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = real_harmonize(*args, **kwargs)
        spent[0] += time.perf_counter() - t
        return out

    compose_stage.harmonize = timed_harmonize
    for s in valid:
        hum = chorus_hum(s)
        if len(hum) < 4:
            continue
        key = s.key_at(next(x for x in s.sections if x.kind == "chorus").start_beat
                       if any(x.kind == "chorus" for x in s.sections) else 0.0)
        human = _from_lead_sheet(s)
        rows["human"].append(song_stats(human, reference, index))
        registers["human"].append(register_stats(human.notes, s.beats_per_bar))
        for writer in ("model", "rules"):
            spent[0] = 0.0
            t0 = time.perf_counter()
            score = compose(hum, key=key, tempo_bpm=s.tempo_bpm, beats_per_bar=s.beats_per_bar,
                            compound=s.compound, length_s=length_s, seed=0, writer=writer)
            if writer == "model":
                times.append(time.perf_counter() - t0)
                harmony_times.append(spent[0])
                report = melody_originality(score, index)
                generated_match.append(report["generated_sections_longest_match_notes"])
            rows[writer].append(song_stats(_from_score(score), reference, index))
            registers[writer].append(register_stats(score.track("melody").notes,
                                                    s.beats_per_bar))
            by_label[writer].append(section_register(score))
    print(f"\nGenerated songs vs real POP909 validation songs ({len(rows['human'])} songs; "
          f"hum = 4 bars of each song's first chorus; {length_s:.0f} s songs, seed 0); mean ± sd")
    print(f"{'statistic':<32} {'POP909 (human)':>16} {'tunesmith model':>16} "
          f"{'rules (before)':>16} {'model/human':>11}")
    for k in rows["human"][0]:
        vals = {w: np.array([r[k] for r in rows[w]]) for w in rows}
        cells = " ".join(f"{v.mean():8.2f} ± {v.std():5.2f}" for v in vals.values())
        ratio = vals["model"].mean() / max(vals["human"].mean(), 1e-9)
        print(f"{k:<32} {cells} {ratio:11.2f}")
    for k in ("verse - chorus mean pitch (st)", "songs with the verse above the chorus"):
        vals = {w: np.array([r[k] for r in registers[w] if k in r]) for w in registers}
        cells = " ".join(f"{v.mean():8.2f} ± {v.std():5.2f}" for v in vals.values())
        ratio = vals["model"].mean() / vals["human"].mean() if vals["human"].mean() else math.nan
        print(f"{k:<32} {cells} {ratio:11.2f}")
    print("  (register rows: songs where the pitch-blind labelling finds a verse: "
          + ", ".join(f"{w} {sum(bool(r) for r in registers[w])}" for w in registers) + ")")
    for writer, found in by_label.items():
        parts = []
        for kind in ("verse", "prechorus", "bridge"):
            v = np.array([r[kind] for r in found if kind in r])
            if len(v):
                parts.append(f"{kind} {v.mean():+.2f} ± {v.std():.2f} (above {np.mean(v > 0):.2f}, "
                             f"{len(v)} songs)")
        rise = np.array([r["prechorus rise"] for r in found if "prechorus rise" in r])
        if len(rise):
            parts.append(f"pre-chorus second half minus first {rise.mean():+.2f} ± {rise.std():.2f} "
                         f"(rises in {np.mean(rise > 0):.2f})")
        below = np.array([r["below"] for r in found if "below" in r])
        above = np.array([r["above"] for r in found if "above" in r])
        print(f"{writer} by its section labels, minus the chorus (st): " + "; ".join(parts))
        print(f"  new sections beyond the chorus range (st): below median {np.median(below):.0f} "
              f"max {below.max():.0f}, above median {np.median(above):.0f} max {above.max():.0f}")
    compose_stage.harmonize = real_harmonize
    print(f"longest run shared with a training song inside the model's new sections (verse, "
          f"pre-chorus, bridge): max {max(generated_match)} notes over {len(generated_match)} "
          f"songs (0 = under {NGRAM_NOTES})")
    ours = np.array(times) - np.array(harmony_times)
    print(f"compose() with the model, per {length_s:.0f} s song: median {np.median(times):.3f} s "
          f"(max {np.max(times):.3f}), of which the harmoniser {np.median(harmony_times):.3f} s "
          f"and melody writing, form and guard {np.median(ours):.3f} s (max {np.max(ours):.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(default_data_dir()))
    ap.add_argument("--limit", type=int, default=None, help="first N songs of each split")
    ap.add_argument("--max-order", type=int, default=5)
    ap.add_argument("--length", type=float, default=180.0, help="generated song length, s")
    ap.add_argument("--skip-nll", action="store_true")
    ap.add_argument("--skip-songs", action="store_true")
    args = ap.parse_args()
    from pathlib import Path

    data = Path(args.data)
    t0 = time.perf_counter()
    train = load_split("train", data, limit=args.limit)
    valid = load_split("validation", data, limit=args.limit)
    print(f"POP909 loaded in {time.perf_counter() - t0:.0f} s: {len(train)} train, "
          f"{len(valid)} validation songs")
    if not args.skip_nll:
        test = load_split("test", data, limit=args.limit)
        nll_bench(train, valid, test, args.max_order)
    if not args.skip_songs:
        songs_bench(train, valid, args.length)


if __name__ == "__main__":
    main()
