"""Benchmark: streamed transcription (StreamingTranscriber) vs the offline `transcribe` on ssvd-dev.

Each take is fed in chunks of --chunk samples (default 4096, about 93 ms at 44.1 kHz: a
websocket message) and compared with `transcribe` on the whole take, in the same run:

- agreement: mir_eval note F1 of the streamed notes against the offline ones (onsets within
  20 ms, pitch within 10 cents, offsets ignored), and the share of takes with the same count;
- accuracy: COnP / COnPOff F1 against the ssvd-dev labels for both (as bench/transcription.py);
- latency: how long after a note's end it was reported final (audio time received minus the
  note's offset), median / 90th percentile / maximum over all notes finalised before finish();
- cost: CPU seconds for the take, as x real time, for both;
- poly alarms: takes the streamed polyphonic-input check wrongly calls polyphonic (every
  ssvd-dev take is one singer).

    python bench/streaming.py [DATA_DIR] [--limit N] [--chunk 4096] [--conditions clean,white-10dB]
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from transcription import DATASET, bench_parser, note_scores, read_truth
from transcription_robustness import CONDITIONS, SEED

from tunesmith.errors import NoMelodyError, PolyphonicInputError
from tunesmith.listen import load_audio, transcribe
from tunesmith.listen.streaming import StreamingTranscriber
from tunesmith.score import SungNote

AGREE_ONSET_S = 0.02
AGREE_PITCH_CENTS = 10.0


@dataclass
class TakeResult:
    name: str
    duration_s: float
    offline: list[SungNote]
    streamed: list[SungNote]
    latencies_s: list[float]
    offline_cpu_s: float
    streamed_cpu_s: float
    scores_offline: dict[str, float]
    scores_streamed: dict[str, float]
    polyphony_alarm: bool


def agreement(ref: Sequence[SungNote], est: Sequence[SungNote]) -> float:
    import mir_eval

    if not ref and not est:
        return 1.0
    if not ref or not est:
        return 0.0

    def arrays(notes: Sequence[SungNote]) -> tuple[np.ndarray, np.ndarray]:
        iv = np.array([[n.onset_s, max(n.offset_s, n.onset_s + 1e-3)] for n in notes])
        return iv, 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69.0) / 12.0)

    (ri, rp), (ei, ep) = arrays(ref), arrays(est)
    return mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=AGREE_ONSET_S, pitch_tolerance=AGREE_PITCH_CENTS,
        offset_ratio=None)[2]


def run_take(name: str, x: np.ndarray, sr: int, truth: list[SungNote], chunk: int) -> TakeResult:
    t0 = time.process_time()
    try:
        offline = transcribe(x, sample_rate=sr)
    except NoMelodyError:
        offline = []
    t1 = time.process_time()
    st = StreamingTranscriber(sample_rate=sr)
    latencies = []
    for i in range(0, x.size, chunk):
        update = st.feed(x[i:i + chunk])
        latencies += [update.received_s - n.offset_s for n in update.final]
    alarm = False
    try:
        st.finish()
    except NoMelodyError:
        pass
    except PolyphonicInputError:
        alarm = True  # a sung take called polyphonic: a false alarm (the notes are kept)
    t2 = time.process_time()
    streamed = st.notes
    return TakeResult(name, x.size / sr, offline, streamed, latencies, t1 - t0, t2 - t1,
                      note_scores(truth, offline), note_scores(truth, streamed), alarm)


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--chunk", type=int, default=4096, help="samples per fed chunk")
    parser.add_argument("--conditions", default="clean",
                        help=f"comma-separated, of: {', '.join(CONDITIONS)}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    files = sorted((args.data / DATASET).glob("*.flac"))[: args.limit or None]
    if not files:
        raise SystemExit(f"no FLAC files in {args.data / DATASET}: pass the data folder")
    conditions = [c for c in args.conditions.split(",") if c]
    print(f"{DATASET}: {len(files)} takes, chunks of {args.chunk} samples, "
          f"conditions {', '.join(conditions)}")

    header = (f"{'condition':<12}{'agree F1':>9}{'same n':>8}{'COnP off':>10}{'COnP str':>10}"
              f"{'COnPOff off':>12}{'COnPOff str':>12}{'latency med/p90/max s':>23}"
              f"{'xRT off':>9}{'xRT str':>9}{'poly alarms':>12}")
    rows = []
    worst: list[tuple[float, str, str]] = []
    for cond in conditions:
        results = []
        for flac in files:
            x, sr = load_audio(flac)
            truth = read_truth(flac.with_suffix(".txt"))
            rng = np.random.default_rng([SEED, zlib.crc32(f"{cond}/{flac.stem}".encode())])
            y, ref = CONDITIONS[cond](flac.stem)(x, sr, truth, rng)
            r = run_take(flac.stem, y, sr, ref, args.chunk)
            results.append(r)
            worst.append((agreement(r.offline, r.streamed), cond, flac.stem))
            logging.info("%s %s agree=%.3f", cond, flac.stem, worst[-1][0])
        agree = np.mean([agreement(r.offline, r.streamed) for r in results])
        same = np.mean([len(r.offline) == len(r.streamed) for r in results])
        lat = np.concatenate([r.latencies_s for r in results]) if results else np.zeros(1)
        dur = sum(r.duration_s for r in results)

        def mean(key: str, which: str, results: list[TakeResult] = results) -> float:
            return float(np.mean([getattr(r, which)[key] for r in results]))

        rows.append(
            f"{cond:<12}{agree:>9.3f}{same:>8.2f}{mean('COnP', 'scores_offline'):>10.3f}"
            f"{mean('COnP', 'scores_streamed'):>10.3f}{mean('COnPOff', 'scores_offline'):>12.3f}"
            f"{mean('COnPOff', 'scores_streamed'):>12.3f}"
            f"{f'{np.median(lat):.2f} / {np.percentile(lat, 90):.2f} / {np.max(lat):.2f}':>23}"
            f"{dur / sum(r.offline_cpu_s for r in results):>9.0f}"
            f"{dur / sum(r.streamed_cpu_s for r in results):>9.1f}"
            f"{f'{sum(r.polyphony_alarm for r in results)}/{len(results)}':>12}")
    print("\n" + header)
    print("\n".join(rows))
    print(f"agree F1: streamed vs offline notes, onsets within {AGREE_ONSET_S * 1000:.0f} ms and "
          f"pitch within {AGREE_PITCH_CENTS:.0f} cents; xRT: audio seconds per CPU second")
    print("least agreement: " + ", ".join(f"{c} {n} {a:.3f}" for a, c, n in sorted(worst)[:5]))


if __name__ == "__main__":
    main()
