"""Time `make_release` on a 3-minute song: wall time, CPU time, and each step.

Makes one song from the built-in demo hum (not timed), then releases it N times (the first run
is a warm-up: imports, the local signing certificate, numba-free but cold caches). Target
(issue 8): the bundle for a 3-minute song in under 30 s on 2 cores.

There is no offline peer that makes the same bundle, so the figure is compared with the song's
own length (x real time) and CPU time is printed beside wall time: on a shared machine the
wall time grows with the load, the CPU time does not.

    python bench/release.py [--runs 2] [--length 3:00] [--style pop-ballad] [--no-video]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # LilyPond
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--length", default="3:00")
    ap.add_argument("--style", default="pop-ballad")
    ap.add_argument("--no-video", action="store_true")
    args = ap.parse_args()

    from tunesmith import humsynth, pipeline
    from tunesmith.cli import parse_length
    from tunesmith.publish.release import make_release

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TUNESMITH_CONFIG_DIR", str(Path(tmp) / "config"))
        sr = pipeline.SAMPLE_RATE
        hum = humsynth.synthesize_hum(humsynth.demo_melody(seed=0), sample_rate=sr, seed=0)
        request = pipeline.SongRequest(style=args.style, length_s=parse_length(args.length), seed=0)
        song = pipeline.song_from_audio(hum, sample_rate=sr, request=request)
        song_dir = pipeline.write_song(song, Path(tmp) / "song")
        duration = song.info["duration_s"]
        print(f"song: {args.style}, {duration:.1f} s, {len(list((song_dir / 'stems').glob('*.wav')))} stems")
        rows = []
        for run in range(args.runs + 1):
            c0, t0 = _cpu_s(), time.perf_counter()
            result = make_release(song_dir, title="Bench Song", artist="Bench Artist",
                                  isrc="US-S1Z-25-00001", upc="036000291452", overwrite=True,
                                  video=not args.no_video)
            wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
            if run == 0:
                print(f"warm-up run: {wall:.2f} s wall, {cpu:.2f} s CPU")
                continue
            rows.append((wall, cpu, result.timings_s))
    load = os.getloadavg()[0]
    wall = statistics.median(r[0] for r in rows)
    cpu = statistics.median(r[1] for r in rows)
    print(f"\n{args.runs} timed runs (median), load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'step':<18} {'seconds':>8}")
    for step in rows[0][2]:
        if step != "total":
            print(f"{step:<18} {statistics.median(r[2].get(step, 0.0) for r in rows):8.2f}")
    print(f"{'total (wall)':<18} {wall:8.2f}   x real time {duration / wall:.1f}")
    print(f"{'total (CPU)':<18} {cpu:8.2f}   (all threads and LilyPond)")
    print(f"target: under 30 s for a {duration / 60:.1f}-minute song -> "
          f"{'PASS' if wall < 30 else 'FAIL'} (wall), CPU/2 = {cpu / 2:.1f} s")


if __name__ == "__main__":
    main()
