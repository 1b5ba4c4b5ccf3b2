"""Melody harmonisation on POP909 test songs: our learned harmoniser vs a first-order HMM vs the
human chords, side by side.

For each POP909 test song (ids 851-909; `--split validation` gives 801-850 for development),
the MELODY track on the song's annotated beat grid is harmonised, one chord per beat, by
- tunesmith: `harmonize_beats` (the shipped model, harmony="rich", mood 0, seed 0, no cadence
  constraints: the song's own form is unknown to it);
- HMM: a first-order hidden Markov model as in MySong (Simon, Morris & Basu, CHI 2008), states
  the same 312 key-relative chords, transitions per beat (staying included), emissions the
  melody's pitch classes weighted by their duration in the beat; trained on songs 001-800, the
  same training split as ours (cached in .bench-cache/; `--no-cache` trains it in the run), and
  decoded with Viterbi;
- human: the chords of `chord_midi.txt`.
Both systems get the annotated key(s) and beat grid. Beats scored: those inside the melody's
span (first onset to last offset) where the human chord is not N.

Printed: per-beat chord accuracy against the human chords, at triad level (root + maj/min/dim/
aug/sus, sevenths reduced) and seventh level (root + full quality, bass ignored), pooled over
beats; the melody/chord fit metrics of Yeh et al. (2021) (CTnCTR, PCS, MCTD, CHE, CC, CTD, see
`tunesmith.compose.harmony_metrics`) per song, mean ± sd, with the human 5-95 % range and whether
each system's mean lies inside it. Then the controls: share of seventh chords and of
fourth-up root motion for simple / rich / jazzy against iReal Pro jazz standards
(`jazz-standards`, reference only), chord changes per bar, and the share of major-quality chords
for darker / neutral / brighter moods.

    python bench/harmony.py [DATA_DIR] [--split test|validation] [--limit N] [--no-cache]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.harmony import harmonize_beats
from tunesmith.compose.harmony_data import (
    TEST_IDS,
    TRAIN_IDS,
    VALIDATION_IDS,
    PopSong,
    default_data_dir,
    iter_songs,
)
from tunesmith.compose.harmony_features import beat_features
from tunesmith.compose.harmony_metrics import FIT_METRICS, accuracy, fit_metrics
from tunesmith.compose.harmony_model import load_model
from tunesmith.compose.harmony_vocab import (
    MAJOR_LIKE,
    MINOR_LIKE,
    N_CLASSES,
    SEVENTH_LIKE,
    chord_class,
    class_of,
    frame_tonic,
)
from tunesmith.theory import ChordSymbol, parse_pitch_class

ROOT = Path(__file__).resolve().parents[1]
HMM_CACHE = ROOT / ".bench-cache" / "harmony-hmm-v1.npz"


# ---------------------------------------------------------------- the HMM baseline

@dataclass(frozen=True)
class Hmm:
    log_init: np.ndarray  # (C,)
    log_trans: np.ndarray  # (C, C) per beat, staying included
    log_emit: np.ndarray  # (C, 12) log p(pitch class | chord)

    def decode(self, dur: np.ndarray) -> np.ndarray:
        """Viterbi over beats; `dur` (n, 12) melody pitch-class time per beat (in beats)."""
        obs = dur @ self.log_emit.T  # (n, C)
        score = self.log_init + obs[0]
        back = np.zeros(obs.shape, dtype=np.int32)
        cols = np.arange(obs.shape[1])
        for t in range(1, len(obs)):
            total = score[:, None] + self.log_trans
            back[t] = np.argmax(total, axis=0)
            score = total[back[t], cols] + obs[t]
        path = np.zeros(len(obs), dtype=np.int32)
        path[-1] = int(np.argmax(score))
        for t in range(len(obs) - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path


def song_frame(song: PopSong) -> tuple[np.ndarray, np.ndarray]:
    keys = song.beat_keys()
    return np.array([frame_tonic(k) for k in keys]), np.array([k.mode == "minor" for k in keys])


def train_hmm(data_dir: Path, *, k_trans: float = 1.0, alpha_emit: float = 0.5) -> Hmm:
    trans = np.zeros((N_CLASSES, N_CLASSES))
    emit = np.zeros((N_CLASSES, 12))
    init = np.zeros(N_CLASSES)
    for song in iter_songs(TRAIN_IDS, data_dir):
        tonic, minor = song_frame(song)
        dur = beat_features(song.melody, song.grid, frame_tonic=tonic, minor=minor)[:, :12]
        y = np.array([-1 if c is None else class_of(c, int(t)).index
                      for c, t in zip(song.beat_chords(), tonic, strict=True)])
        ok = y >= 0
        np.add.at(emit, y[ok], dur[ok])
        np.add.at(init, y[ok], 1.0)
        pair = (y[1:] >= 0) & (y[:-1] >= 0)
        np.add.at(trans, (y[:-1][pair], y[1:][pair]), 1.0)
    unigram = (init + 0.5) / (init + 0.5).sum()
    t = (trans + k_trans * unigram[None, :]) / (trans.sum(axis=1, keepdims=True) + k_trans)
    e = (emit + alpha_emit) / (emit + alpha_emit).sum(axis=1, keepdims=True)
    return Hmm(np.log(unigram), np.log(t), np.log(e))


def load_hmm(data_dir: Path, use_cache: bool) -> Hmm:
    if use_cache and HMM_CACHE.is_file():
        z = np.load(HMM_CACHE)
        return Hmm(z["log_init"], z["log_trans"], z["log_emit"])
    hmm = train_hmm(data_dir)
    HMM_CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(HMM_CACHE, log_init=hmm.log_init, log_trans=hmm.log_trans, log_emit=hmm.log_emit)
    return hmm


def hmm_chords(hmm: Hmm, song: PopSong) -> list[ChordSymbol]:
    tonic, minor = song_frame(song)
    dur = beat_features(song.melody, song.grid, frame_tonic=tonic, minor=minor)[:, :12]
    path = hmm.decode(dur)
    return [chord_class(int(c)).to_symbol(int(t)) for c, t in zip(path, tonic, strict=True)]


# ---------------------------------------------------------------- jazz standards (reference stats)

_JAZZ_RE = re.compile(r"^([A-G][b#]?)([^/]*)")


def jazz_stats(path: Path) -> dict[str, float]:
    """Share of chords with a 7th/6th/extension and of changes whose root rises a fourth."""
    songs = json.loads(path.read_text())
    rich = total = fourth = changes = 0
    for s in songs:
        for sec in s["Sections"]:
            for seg in [sec["MainSegment"], *sec.get("Endings", [])]:
                prev = None
                for bar in seg["Chords"].split("|"):
                    for tok in bar.split(","):
                        tok = re.sub(r"\(.*?\)", "", tok).strip()
                        m = _JAZZ_RE.match(tok)
                        if not m:
                            continue
                        root = parse_pitch_class(m.group(1))[0]
                        q = m.group(2)
                        total += 1
                        rich += bool(re.search(r"[679]|11|13|\^|h|o7|07", q))
                        if prev is not None and prev != root:
                            changes += 1
                            fourth += (root - prev) % 12 == 5
                        prev = root
    return {"seventh_share": rich / total, "fourth_share": fourth / max(changes, 1),
            "tunes": len(songs)}


def style_stats(chords: list[list[ChordSymbol]], bars: list[float],
                fits: list[dict[str, float]] | None = None) -> dict[str, float]:
    rich = total = fourth = changes = major = minor_ = 0
    for seq in chords:
        events = [c for i, c in enumerate(seq) if i == 0 or c != seq[i - 1]]
        total += len(events)
        rich += sum(c.quality in SEVENTH_LIKE for c in events)
        major += sum(c.quality in MAJOR_LIKE for c in events)
        minor_ += sum(c.quality in MINOR_LIKE for c in events)
        for a, b in zip(events[:-1], events[1:], strict=True):
            if a.root != b.root:
                changes += 1
                fourth += (b.root - a.root) % 12 == 5
    out = {"seventh_share": rich / max(total, 1), "fourth_share": fourth / max(changes, 1),
           "changes_per_bar": total / max(sum(bars), 1e-9),
           "major_share": major / max(major + minor_, 1)}
    for m in ("CTnCTR", "PCS", "MCTD"):
        out[m] = float(np.mean([f[m] for f in fits])) if fits else float("nan")
    return out


# ---------------------------------------------------------------- main

def melody_mask(song: PopSong, human: list[ChordSymbol | None]) -> np.ndarray:
    lo = min(n.start_beat for n in song.melody)
    hi = max(n.end_beat for n in song.melody)
    beats = np.arange(song.grid.n_beats)
    return (beats + 1 > lo) & (beats < hi) & np.array([c is not None for c in human])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=None)
    ap.add_argument("--split", choices=("test", "validation"), default="test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-cache", action="store_true", help="train the HMM again")
    args = ap.parse_args()
    data_dir = args.data or default_data_dir()
    ids = list(TEST_IDS if args.split == "test" else VALIDATION_IDS)[: args.limit]
    t0 = time.time()
    hmm = load_hmm(data_dir, not args.no_cache)
    t_hmm = time.time() - t0
    model = load_model()
    systems = ("tunesmith", "HMM", "human")
    acc = {s: {"triad_hits": 0, "seventh_hits": 0, "beats": 0} for s in systems[:2]}
    fits: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
    names = ("human", "simple", "rich", "jazzy", "darker", "brighter")
    controls: dict[str, list[list[ChordSymbol]]] = {k: [] for k in names}
    control_fits: dict[str, list[dict[str, float]]] = {k: [] for k in names}
    bars: list[float] = []
    seconds = {"tunesmith": 0.0, "HMM": 0.0}
    n_songs = 0
    for song in iter_songs(ids, data_dir):
        if not song.melody:
            continue
        n_songs += 1
        human = song.beat_chords()
        mask = melody_mask(song, human)
        keys = song.beat_keys()
        t = time.time()
        ours = harmonize_beats(song.melody, song.grid, key=keys, harmony="rich", seed=0, model=model)
        seconds["tunesmith"] += time.time() - t
        t = time.time()
        base = hmm_chords(hmm, song)
        seconds["HMM"] += time.time() - t
        for name, est in (("tunesmith", ours), ("HMM", base)):
            a = accuracy(human, est, mask)
            for k in acc[name]:
                acc[name][k] += a[k]
        fits["tunesmith"].append(fit_metrics(song.melody, ours, mask))
        fits["HMM"].append(fit_metrics(song.melody, base, mask))
        fits["human"].append(fit_metrics(song.melody, human, mask))
        span = np.flatnonzero(mask)
        lo, hi = (int(span[0]), int(span[-1]) + 1) if len(span) else (0, 0)
        bars.append(float(song.grid.downbeat[lo:hi].sum()))
        controls["rich"].append(ours[lo:hi])
        control_fits["rich"].append(fits["tunesmith"][-1])
        controls["human"].append([c for c in human[lo:hi] if c is not None])
        control_fits["human"].append(fits["human"][-1])
        for name, kw in (("simple", {"harmony": "simple"}), ("jazzy", {"harmony": "jazzy"}),
                         ("darker", {"mood": -1.0}), ("brighter", {"mood": 1.0})):
            est = harmonize_beats(song.melody, song.grid, key=keys, seed=0, model=model, **kw)
            controls[name].append(est[lo:hi])
            control_fits[name].append(fit_metrics(song.melody, est, mask))
    print(f"POP909 {args.split} songs {ids[0]:03d}-{ids[-1]:03d}: {n_songs} songs, "
          f"{acc['tunesmith']['beats']} scored beats; HMM trained on 001-800 "
          f"({'from cache' if t_hmm < 5 else f'{t_hmm:.0f} s'})")
    print()
    print("| metric | tunesmith | HMM (MySong-style) | human | human 5-95 % | tunesmith in range | HMM in range |")
    print("|---|---|---|---|---|---|---|")
    tri = {s: acc[s]["triad_hits"] / max(acc[s]["beats"], 1) for s in acc}
    sev = {s: acc[s]["seventh_hits"] / max(acc[s]["beats"], 1) for s in acc}
    print(f"| triad accuracy (per beat) | {tri['tunesmith']:.3f} | {tri['HMM']:.3f} | 1 | | | |")
    print(f"| seventh accuracy (per beat) | {sev['tunesmith']:.3f} | {sev['HMM']:.3f} | 1 | | | |")
    for m in FIT_METRICS:
        vals = {s: np.array([f[m] for f in fits[s]]) for s in systems}
        lo, hi = np.percentile(vals["human"], [5, 95])
        cells = [f"{v.mean():.3f} ± {v.std():.3f}" for v in (vals["tunesmith"], vals["HMM"], vals["human"])]
        inside = ["yes" if lo <= vals[s].mean() <= hi else "no" for s in ("tunesmith", "HMM")]
        print(f"| {m} | {cells[0]} | {cells[1]} | {cells[2]} | {lo:.3f}-{hi:.3f} | {inside[0]} | {inside[1]} |")
    print()
    print(f"triad accuracy, tunesmith - HMM: {100 * (tri['tunesmith'] - tri['HMM']):+.1f} points "
          f"(ratio {tri['tunesmith'] / max(tri['HMM'], 1e-9):.2f}); seventh: "
          f"{100 * (sev['tunesmith'] - sev['HMM']):+.1f} points")
    print(f"decoding time: tunesmith {seconds['tunesmith']:.1f} s, HMM {seconds['HMM']:.1f} s "
          f"for {n_songs} songs")
    print()
    jazz_path = data_dir / "jazz-standards" / "JazzStandards.json"
    jazz = jazz_stats(jazz_path) if jazz_path.is_file() else None
    print("| harmony | sevenths/6ths/9ths (share of chords) | root up a fourth (share of root changes) "
          "| chords per bar | major-quality share | CTnCTR | PCS | MCTD |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        st = style_stats(controls[name], bars, control_fits[name])
        label = {"darker": "rich, mood darker", "brighter": "rich, mood brighter",
                 "human": "human (POP909)"}.get(name, name)
        print(f"| {label} | {st['seventh_share']:.3f} | {st['fourth_share']:.3f} | "
              f"{st['changes_per_bar']:.2f} | {st['major_share']:.3f} | {st['CTnCTR']:.3f} | "
              f"{st['PCS']:.3f} | {st['MCTD']:.3f} |")
    if jazz:
        print(f"| jazz standards (iReal Pro, {jazz['tunes']:,} tunes) | {jazz['seventh_share']:.3f} | "
              f"{jazz['fourth_share']:.3f} | | | | | |")


if __name__ == "__main__":
    main()
