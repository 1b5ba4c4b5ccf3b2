"""Benchmark: sung-melody transcription, tunesmith `listen.transcribe` vs Spotify basic-pitch 0.4.0.

Runs both on every file of `ssvd-dev` (FLAC + `.txt` ground truth `onset_s offset_s midi_pitch`)
and prints mir_eval note F1 (onset tolerance 50 ms, pitch tolerance 50 cents): COnP (headline,
offset ignored), COn (onset only) and COnPOff (offset ratio 0.2), the mean over files, the speed
in x real time, the ratio ours / basic-pitch, and our five worst files.

    python bench/transcription.py [DATA_DIR] [--limit N] [--no-cache] [--skip-peer]

DATA_DIR defaults to $TUNESMITH_DATA or ../shared/data relative to the project root.
basic-pitch results (notes and the time they took) are cached under .bench-cache/basic-pitch/;
`--no-cache` measures it again. Needs the `bench` extra plus `pip install --no-deps basic-pitch==0.4.0`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.listen import load_audio, transcribe
from tunesmith.score import SungNote

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
CACHE_DIR = PROJECT_ROOT / ".bench-cache" / "basic-pitch"
DATASET = "ssvd-dev"
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
OFFSET_RATIO = 0.2
METRICS = ("COnP", "COn", "COnPOff")
DIAGNOSTICS = ("COnP*", "COnPOff*")  # COnP / COnPOff after removing each file's median
# label-vs-estimate pitch offset (an oracle: how much of the gap is the labels' tuning)


@dataclass
class FileResult:
    name: str
    duration_s: float
    elapsed_s: float
    scores: dict[str, float]


def read_truth(path: Path) -> list[SungNote]:
    rows = np.loadtxt(path, ndmin=2)
    return [SungNote(float(a), float(b), float(p)) for a, b, p in rows]


def note_scores(ref: Sequence[SungNote], est: Sequence[SungNote]) -> dict[str, float]:
    """COnP / COn / COnPOff F1 with mir_eval.transcription."""
    import mir_eval

    def arrays(notes: Sequence[SungNote]) -> tuple[np.ndarray, np.ndarray]:
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        iv = np.array([[n.onset_s, max(n.offset_s, n.onset_s + 1e-3)] for n in notes])
        hz = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69.0) / 12.0)
        return iv, hz

    ref_iv, ref_hz = arrays(ref)
    est_iv, est_hz = arrays(est)
    out: dict[str, float] = {}
    common = dict(onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS)
    out["COnP"] = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, offset_ratio=None, **common)[2]
    out["COnPOff"] = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, offset_ratio=OFFSET_RATIO, **common)[2]
    out["COn"] = mir_eval.transcription.onset_precision_recall_f1(
        ref_iv, est_iv, onset_tolerance=ONSET_TOLERANCE_S)[2]
    # Diagnostic only: ssvd-dev's pitch labels sit on a 44100/8192 Hz FFT-bin grid and are
    # sharp of the sung f0 by a per-file amount (about +4 Hz: ~1 semitone for low male voices).
    # Shifting each system's pitches by its median offset on onset-matched notes shows how much
    # of the COnP gap is label tuning rather than transcription.
    pairs = mir_eval.transcription.match_note_onsets(ref_iv, est_iv, onset_tolerance=ONSET_TOLERANCE_S)
    shift = 0.0
    if pairs:
        ref_p = np.array([ref[i].pitch for i, _ in pairs])
        est_p = np.array([est[j].pitch for _, j in pairs])
        shift = float(np.median(ref_p - est_p))
    for name, ratio in zip(DIAGNOSTICS, (None, OFFSET_RATIO), strict=True):
        out[name] = mir_eval.transcription.precision_recall_f1_overlap(
            ref_iv, ref_hz, est_iv, est_hz * 2.0 ** (shift / 12.0), offset_ratio=ratio,
            **common)[2]
    return out


def run_ours(path: Path) -> tuple[list[SungNote], float]:
    t0 = time.perf_counter()
    audio, sr = load_audio(path)
    notes = transcribe(audio, sample_rate=sr)
    return notes, time.perf_counter() - t0


def run_basic_pitch(path: Path, *, use_cache: bool) -> tuple[list[SungNote], float]:
    cache = CACHE_DIR / f"{path.stem}.json"
    if use_cache and cache.exists():
        data = json.loads(cache.read_text())
        return [SungNote(*n) for n in data["notes"]], float(data["elapsed_s"])
    from basic_pitch.inference import predict

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
        _, _, events = predict(str(path))
    elapsed = time.perf_counter() - t0
    notes = sorted((SungNote(float(s), float(e), float(p)) for s, e, p, *_ in events),
                   key=lambda n: n.onset_s)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"elapsed_s": elapsed,
                                 "notes": [[n.onset_s, n.offset_s, n.pitch] for n in notes]}))
    return notes, elapsed


def evaluate(files: Sequence[Path], system: Callable[[Path], tuple[list[SungNote], float]],
             label: str) -> list[FileResult]:
    import soundfile as sf

    results = []
    for i, flac in enumerate(files, 1):
        notes, elapsed = system(flac)
        ref = read_truth(flac.with_suffix(".txt"))
        results.append(FileResult(flac.stem, sf.info(str(flac)).duration, elapsed,
                                  note_scores(ref, notes)))
        logging.info("%s %d/%d %s COnP=%.3f", label, i, len(files), flac.stem,
                     results[-1].scores["COnP"])
    return results


def summary(results: Sequence[FileResult]) -> dict[str, float]:
    out = {m: float(np.mean([r.scores[m] for r in results])) for m in (*METRICS, *DIAGNOSTICS)}
    out["xRT"] = sum(r.duration_s for r in results) / max(sum(r.elapsed_s for r in results), 1e-9)
    return out


def bench_parser(description: str) -> argparse.ArgumentParser:
    """The options every ssvd-dev bench shares: data folder, --limit, --no-cache,
    --skip-peer, --verbose."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("data", nargs="?", type=Path,
                        default=Path(os.environ.get("TUNESMITH_DATA", DEFAULT_DATA)))
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--no-cache", action="store_true", help="re-run basic-pitch")
    parser.add_argument("--skip-peer", action="store_true", help="only run ours")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    folder = args.data / DATASET
    files = sorted(folder.glob("*.flac"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise SystemExit(f"no FLAC files in {folder}: pass the data folder or set TUNESMITH_DATA")
    total_s = sum(__import__("soundfile").info(str(f)).duration for f in files)
    print(f"{DATASET}: {len(files)} files, {total_s / 60:.1f} min of singing")

    ours = evaluate(files, run_ours, "ours")
    rows = {"tunesmith": summary(ours)}
    if not args.skip_peer:
        peer = evaluate(files, lambda p: run_basic_pitch(p, use_cache=not args.no_cache),
                        "basic-pitch")
        rows["basic-pitch 0.4.0"] = summary(peer)

    cols = (*METRICS, "xRT", *DIAGNOSTICS)
    print(f"\n{'system':<20}" + "".join(f"{c + (' F1' if c in METRICS else ''):>12}"
                                      for c in cols))
    for name, row in rows.items():
        print(f"{name:<20}" + "".join(f"{row[c]:>12.3f}" for c in cols))
    if len(rows) == 2:
        a, b = rows["tunesmith"], rows["basic-pitch 0.4.0"]
        print(f"{'ratio ours/peer':<20}" + "".join(f"{a[c] / max(b[c], 1e-9):>12.2f}" for c in cols))
        if not args.no_cache:
            print("(basic-pitch speed from the cached run; --no-cache to measure it again)")
    print(f"{', '.join(DIAGNOSTICS)}: diagnostic, COnP and COnPOff with each file's median pitch "
          "offset to the labels removed")

    print("\nour 5 worst files (COnP / COn / COnPOff F1):")
    for r in sorted(ours, key=lambda r: r.scores["COnP"])[:5]:
        print(f"  {r.name:<24}" + "".join(f"{r.scores[m]:>8.3f}" for m in METRICS))


if __name__ == "__main__":
    main()
