"""Audit: do ssvd-dev's pitch labels agree with the sung pitch? An independent tracker decides.

For every labelled note of every ssvd-dev file, compare the label with the median f0 that
librosa's pYIN (a tracker we do not use) measures inside the note (its first and last 50 ms
left out), and with our transcriber's note that starts within 50 ms. Prints, per file and
overall, the median offsets label - pYIN and ours - pYIN in semitones and the share of notes
whose label is more than 50 cents (the COnP tolerance) away from pYIN's pitch, i.e. notes
that no transcriber reporting the sung pitch can score on.

    python bench/ssvd_label_audit.py [DATA_DIR] [--limit N]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transcription import DATASET, bench_parser, read_truth

from tunesmith.listen import load_audio, transcribe

TRACK_RATE = 16000
HOP = 160
EDGE_S = 0.05
TOLERANCE_ST = 0.5


def pyin_track(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    x = librosa.resample(np.asarray(audio, dtype=np.float64), orig_sr=sr, target_sr=TRACK_RATE)
    f0, voiced, _ = librosa.pyin(x, fmin=60.0, fmax=1100.0, sr=TRACK_RATE, frame_length=1024,
                                 hop_length=HOP)
    times = np.arange(len(f0)) * HOP / TRACK_RATE
    midi = np.where(voiced, 69.0 + 12.0 * np.log2(np.maximum(np.nan_to_num(f0), 1e-9) / 440.0),
                    np.nan)
    return times, midi


def audit_file(flac: Path) -> dict[str, float]:
    audio, sr = load_audio(flac)
    ref = read_truth(flac.with_suffix(".txt"))
    ours = transcribe(audio, sample_rate=sr)
    times, midi = pyin_track(audio, sr)
    onsets = np.array([n.onset_s for n in ours])
    label_off, ours_off = [], []
    for note in ref:
        inside = (times > note.onset_s + EDGE_S) & (times < note.offset_s - EDGE_S)
        seg = midi[inside]
        seg = seg[~np.isnan(seg)]
        if seg.size < 3:
            continue
        sung = float(np.median(seg))
        label_off.append(note.pitch - sung)
        j = int(np.argmin(np.abs(onsets - note.onset_s))) if onsets.size else -1
        if j >= 0 and abs(onsets[j] - note.onset_s) <= 0.05:
            ours_off.append(ours[j].pitch - sung)
    lab = np.array(label_off)
    our = np.array(ours_off)
    return {"notes": float(lab.size), "label-pyin": float(np.median(lab)) if lab.size else 0.0,
            "ours-pyin": float(np.median(our)) if our.size else 0.0,
            "label off >50c": float(np.mean(np.abs(lab) > TOLERANCE_ST)) if lab.size else 0.0,
            "ours off >50c": float(np.mean(np.abs(our) > TOLERANCE_ST)) if our.size else 0.0}


def main(argv: Sequence[str] | None = None) -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    files = sorted((args.data / DATASET).glob("*.flac"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise SystemExit(f"no FLAC files in {args.data / DATASET}")
    rows = {f.stem: audit_file(f) for f in files}
    cols = ("notes", "label-pyin", "ours-pyin", "label off >50c", "ours off >50c")
    print(f"{'file':<20}" + "".join(f"{c:>16}" for c in cols))
    for name, r in sorted(rows.items(), key=lambda kv: -abs(kv[1]["label-pyin"])):
        if abs(r["label-pyin"]) > TOLERANCE_ST or args.verbose:
            print(f"{name:<20}" + "".join(f"{r[c]:>16.2f}" for c in cols))
    weights = np.array([r["notes"] for r in rows.values()])
    total = {c: float(np.average([r[c] for r in rows.values()], weights=weights)) for c in cols[1:]}
    print(f"{'all (note-weighted)':<20}{weights.sum():>16.0f}"
          + "".join(f"{total[c]:>16.2f}" for c in cols[1:]))
    bad = sum(abs(r["label-pyin"]) > TOLERANCE_ST for r in rows.values())
    print(f"\n{bad} of {len(rows)} files have labels more than 50 cents from pYIN's pitch "
          "(median over their notes); columns are semitones or shares of notes.")


if __name__ == "__main__":
    main()
