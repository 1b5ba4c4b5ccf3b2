"""Benchmark: reference mastering, tunesmith `produce.master` vs matchering 2.0, side by side.

Inputs (cached under .bench-cache/master/, rebuilt with --rebuild):
- our songs: the built-in demo hum through `tunesmith.pipeline` in several styles, then the
  arranged score rendered and mixed (unmastered) by our mixer;
- POP909 songs (test split) rendered raw: `tunesmith.render` of the MIDI, stems summed with no
  processing at all;
each cropped to --seconds. The reference is another of our songs, in the pop style, mastered by
us to the target. Both systems master every input to that reference: tunesmith with
`master(..., reference=TonalBalance.from_audio(ref))` at the target (default spotify,
-14 LUFS / -1 dBTP); matchering with `matchering.process(target, reference)` (it matches the
reference's RMS and spectrum and limits sample peaks). Measured on the written files, with
code independent of ours: integrated loudness (pyloudnorm), true peak (4x resample_poly),
spectral distance to the reference (mean |dB| difference of level-aligned 1/3-octave
long-term spectra, 40 Hz - 16 kHz, scipy Welch), and speed (file in -> file out, x real time;
by default song seconds per CPU second of the process, all its threads, which stays steady on a
busy machine; --clock wall for elapsed time).

    python bench/master.py [DATA_DIR] [--seconds 40] [--target spotify] [--rebuild] [--ours-only]
    python bench/master.py --sets pop909 --limit 2      # a quick look

DATA_DIR defaults to $TUNESMITH_DATA or ../shared/data. Needs `pip install -e '.[bench]'`
(matchering) and the FluidR3 SoundFont.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
CACHE = PROJECT_ROOT / ".bench-cache" / "master"
CACHE_VERSION = 1
SR = 44100
OUR_STYLES = ("rock", "jazz-swing", "edm-house", "string-quartet")
REFERENCE_STYLE = "pop"
POP909_IDS = ("861", "874", "888", "903")
POP909_START_S = 30.0
SEED = 3


@dataclass(frozen=True)
class Row:
    name: str
    system: str
    lufs: float
    true_peak_dbtp: float
    distance_db: float
    x_real_time: float


# --------------------------------------------------------------------------- inputs


def _write(path: Path, audio: np.ndarray, sample_rate: int = SR) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(audio, dtype=np.float32).T, sample_rate, subtype="FLOAT")


def _crop(audio: np.ndarray, seconds: float, start_s: float = 0.0) -> np.ndarray:
    a = int(start_s * SR)
    return audio[:, a : a + int(seconds * SR)]


def _our_song_mix(style: str, seconds: float) -> np.ndarray:
    """An unmastered mix of one of our songs: pipeline (listen, compose, arrange), then the
    score rendered and mixed with the style's template."""
    from tunesmith import humsynth, pipeline
    from tunesmith.produce import MixTemplate, Stem, mix
    from tunesmith.render import render

    hum = humsynth.synthesize_hum(humsynth.demo_melody(seed=SEED), sample_rate=SR, seed=SEED)
    request = pipeline.SongRequest(style=style, length_s=seconds, seed=SEED)
    song = pipeline.song_from_audio(hum, sample_rate=SR, request=request)
    stems = render(song.score, sample_rate=SR)
    template = MixTemplate.for_style(style)
    mixed = mix(
        [Stem(s.name, s.role, s.audio, pan=s.pan) for s in stems],
        sample_rate=SR,
        template=template,
        tempo_bpm=song.score.tempo_bpm,
    )
    return mixed.audio


def _pop909_raw(data: Path, song_id: str, seconds: float) -> np.ndarray:
    """A POP909 MIDI rendered as it is: every track through the SoundFont, summed."""
    from tunesmith.render import render
    from tunesmith.score import read_score_midi

    score = read_score_midi(data / "pop909" / "POP909" / song_id / f"{song_id}.mid")
    total = sum(s.audio for s in render(score, sample_rate=SR))
    audio = _crop(np.asarray(total, dtype=np.float32), seconds, POP909_START_S)
    peak = float(np.abs(audio).max())
    return audio / peak * 10 ** (-1 / 20) if peak > 10 ** (-1 / 20) else audio


def prepare(
    data: Path, seconds: float, target: str, rebuild: bool, sets: tuple[str, ...]
) -> tuple[list[Path], Path]:
    """Cached input files and the reference (our pop song mastered by us)."""
    import soundfile as sf

    from tunesmith.produce import MasterTarget, master

    folder = CACHE / f"v{CACHE_VERSION}-{seconds:g}s"
    inputs = []
    for style in OUR_STYLES if "ours" in sets else ():
        path = folder / f"ours-{style}.wav"
        if rebuild or not path.exists():
            print(f"rendering our {style} song ...", flush=True)
            _write(path, _crop(_our_song_mix(style, seconds), seconds))
        inputs.append(path)
    pop = data / "pop909" / "POP909"
    if "pop909" in sets and not pop.is_dir():
        raise SystemExit(f"POP909 not found under {data} (set TUNESMITH_DATA or pass DATA_DIR)")
    for song_id in POP909_IDS if "pop909" in sets else ():
        path = folder / f"pop909-{song_id}.wav"
        if rebuild or not path.exists():
            print(f"rendering POP909 {song_id} raw ...", flush=True)
            _write(path, _pop909_raw(data, song_id, seconds))
        inputs.append(path)
    reference = folder / f"reference-{REFERENCE_STYLE}-{target}.wav"
    if rebuild or not reference.exists():
        print("mastering the reference ...", flush=True)
        raw = folder / f"reference-{REFERENCE_STYLE}-mix.wav"
        if rebuild or not raw.exists():
            _write(raw, _crop(_our_song_mix(REFERENCE_STYLE, seconds), seconds))
        mix_audio = sf.read(raw, dtype="float32", always_2d=True)[0].T
        mastered = master(
            mix_audio, sample_rate=SR, target=MasterTarget.named(target), genre=REFERENCE_STYLE
        )
        _write(reference, mastered.audio)
    return inputs, reference


# --------------------------------------------------------------------------- systems


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def run_ours(
    path: Path, reference: Path, out: Path, target: str, clock: Callable[[], float]
) -> float:
    """File in, file out; returns the seconds it took (on `clock`)."""
    from tunesmith.produce import MasterTarget, master
    from tunesmith.produce.audio_io import read_audio, write_audio
    from tunesmith.produce.tonal import TonalBalance

    t0 = clock()
    audio, rate = read_audio(path)
    ref, ref_rate = read_audio(reference)
    balance = TonalBalance.from_audio(ref, sample_rate=ref_rate)
    result = master(audio, sample_rate=rate, target=MasterTarget.named(target), reference=balance)
    write_audio(out, result.audio, sample_rate=rate)
    return clock() - t0


def run_matchering(path: Path, reference: Path, out: Path, clock: Callable[[], float]) -> float:
    import matchering as mg

    t0 = clock()
    with contextlib.redirect_stdout(io.StringIO()):
        mg.process(target=str(path), reference=str(reference), results=[mg.pcm24(str(out))])
    return clock() - t0


# --------------------------------------------------------------------------- measures


def third_octave_db(audio: np.ndarray) -> np.ndarray:
    from scipy.signal import welch

    f, p = welch(audio.mean(axis=0), fs=SR, nperseg=8192)
    centres = 1000.0 * 2.0 ** (np.arange(-14, 13) / 3.0)  # 40 Hz .. 16 kHz
    return np.array(
        [
            10 * np.log10(max(p[(f >= c / 2 ** (1 / 6)) & (f < c * 2 ** (1 / 6))].sum(), 1e-30))
            for c in centres
        ]
    )


def distance_db(a: np.ndarray, b: np.ndarray) -> float:
    diff = third_octave_db(a) - third_octave_db(b)
    return float(np.mean(np.abs(diff - diff.mean())))


def measure(path: Path, reference_audio: np.ndarray) -> tuple[float, float, float]:
    import pyloudnorm as pyln
    import soundfile as sf
    from scipy.signal import resample_poly

    audio = sf.read(path, dtype="float64", always_2d=True)[0].T
    lufs = float(pyln.Meter(SR).integrated_loudness(audio.T))
    tp = 20 * math.log10(float(np.abs(resample_poly(audio, 4, 1, axis=-1)).max()))
    return lufs, tp, distance_db(audio, reference_audio)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "data", nargs="?", type=Path, default=Path(os.environ.get("TUNESMITH_DATA", DEFAULT_DATA))
    )
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--target", default="spotify")
    ap.add_argument("--rebuild", action="store_true", help="render the inputs again")
    ap.add_argument("--ours-only", action="store_true", help="skip matchering")
    ap.add_argument("--limit", type=int, default=None, help="first N inputs only")
    ap.add_argument("--sets", default="ours,pop909", help="input sets: ours, pop909 or both")
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: process CPU seconds (steady on a busy machine); wall: elapsed seconds",
    )
    args = ap.parse_args()
    clock = CLOCKS[args.clock]
    logging.basicConfig(level=logging.WARNING)

    import soundfile as sf

    from tunesmith.produce import MasterTarget

    target = MasterTarget.named(args.target)
    sets = tuple(s.strip() for s in args.sets.split(","))
    inputs, reference = prepare(args.data, args.seconds, args.target, args.rebuild, sets)
    inputs = inputs[: args.limit] if args.limit else inputs
    ref_audio = sf.read(reference, dtype="float64", always_2d=True)[0].T
    out_dir = CACHE / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    systems = ["tunesmith"] if args.ours_only else ["tunesmith", "matchering"]
    rows: list[Row] = []
    raw_distance: dict[str, float] = {}
    for path in inputs:
        duration = sf.info(path).duration
        raw = sf.read(path, dtype="float64", always_2d=True)[0].T
        raw_distance[path.stem] = distance_db(raw, ref_audio)
        print(
            f"{path.stem}: {duration:.1f} s, distance to reference {distance_db(raw, ref_audio):.2f} dB",
            flush=True,
        )
        for system in systems:
            out = out_dir / f"{path.stem}-{system}.wav"
            if system == "tunesmith":
                seconds = run_ours(path, reference, out, args.target, clock)
            else:
                seconds = run_matchering(path, reference, out, clock)
            lufs, tp, dist = measure(out, ref_audio)
            rows.append(Row(path.stem, system, lufs, tp, dist, duration / seconds))
            print(
                f"  {system:<11} {lufs:7.2f} LUFS  {tp:6.2f} dBTP  distance {dist:5.2f} dB  "
                f"{duration / seconds:6.1f}x real time",
                flush=True,
            )
    print(f"\nspeed clock: {args.clock}")
    report(rows, systems, target.integrated_lufs, target.true_peak_dbtp, raw_distance)


def report(
    rows: list[Row],
    systems: list[str],
    lufs_target: float,
    ceiling: float,
    raw_distance: dict[str, float],
) -> None:
    n_files = len(raw_distance)
    print(
        f"\n{n_files} files, target {lufs_target:g} LUFS / {ceiling:g} dBTP, "
        f"reference mastered by tunesmith\n"
    )
    print(
        "| system | mean abs(LUFS - target) | max abs(LUFS - target) | within 0.5 LU | "
        "true peak <= ceiling | mean spectral distance to ref (dB) | x real time (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for system in systems:
        mine = [r for r in rows if r.system == system]
        err = [abs(r.lufs - lufs_target) for r in mine]
        within = sum(e <= 0.5 for e in err)
        under = sum(r.true_peak_dbtp <= ceiling for r in mine)
        dist = statistics.mean(r.distance_db for r in mine)
        speed = statistics.median(r.x_real_time for r in mine)
        summary[system] = (statistics.mean(err), dist, speed)
        print(
            f"| {system} | {statistics.mean(err):.2f} | {max(err):.2f} | {within}/{len(mine)} | "
            f"{under}/{len(mine)} | {dist:.2f} | {speed:.1f} |"
        )
    if len(systems) == 2:
        (e0, d0, s0), (e1, d1, s1) = summary["tunesmith"], summary["matchering"]
        print(
            f"| ratio tunesmith / matchering | {e0 / max(e1, 1e-9):.2f} | | | | "
            f"{d0 / max(d1, 1e-9):.2f} | {s0 / s1:.2f} |"
        )
    print("\nmean spectral distance to the reference (dB) by input set:\n")
    print("| set | files | unmastered | " + " | ".join(systems) + " |")
    print("|---|---|---|" + "---|" * len(systems))
    for prefix, label in (("ours-", "our songs (mixed by us)"), ("pop909-", "POP909 raw renders")):
        names = sorted({r.name for r in rows if r.name.startswith(prefix)})
        if not names:
            continue
        cells = [
            statistics.mean(r.distance_db for r in rows if r.system == system and r.name in names)
            for system in systems
        ]
        before = statistics.mean(raw_distance[n] for n in names)
        print(
            f"| {label} | {len(names)} | {before:.2f} | "
            + " | ".join(f"{c:.2f}" for c in cells)
            + " |"
        )
    ours = [r for r in rows if r.system == "tunesmith"]
    ok = all(abs(r.lufs - lufs_target) <= 0.5 and r.true_peak_dbtp <= ceiling for r in ours)
    print(f"\ntarget: every file within 0.5 LU and under the ceiling -> {'PASS' if ok else 'FAIL'}")
    if len(systems) == 2:
        faster = summary["tunesmith"][2] > summary["matchering"][2]
        print(f"target: faster than matchering -> {'PASS' if faster else 'FAIL'}")


if __name__ == "__main__":
    main()
