"""Time hum -> finished 3-minute song, per stage and overall, as x real time.

Runs the whole pipeline on the built-in synthesised demo hum once to warm up (imports, SoundFont
load, caches), then N timed runs. Target (issue 2): under 10 s for a 3-minute song on 2 cores.

    python bench/pipeline.py [--runs 3] [--style pop-ballad] [--length 3:00] [--render-pool]

Render, by default, as the CLI does: render processes started for each song (start-up and
SoundFont load in the render time). `--render-pool`: one RenderPool kept across the runs, as the
service worker does (each process loads the SoundFont once).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from tunesmith import humsynth, pipeline
from tunesmith.cli import parse_length
from tunesmith.render import RenderPool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--style", default="pop-ballad")
    ap.add_argument("--length", default="3:00")
    ap.add_argument("--render-pool", action="store_true",
                    help="keep one RenderPool across runs (the service) instead of one per song")
    args = ap.parse_args()
    sr = pipeline.SAMPLE_RATE
    hum = humsynth.synthesize_hum(humsynth.demo_melody(seed=0), sample_rate=sr, seed=0)
    request = pipeline.SongRequest(style=args.style, length_s=parse_length(args.length), seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        pool = stack.enter_context(RenderPool(sample_rate=sr)) if args.render_pool else None
        for run in range(args.runs + 1):
            t0 = time.perf_counter()
            song = pipeline.song_from_audio(hum, sample_rate=sr, request=request, render_pool=pool)
            pipeline.write_song(song, Path(tmp) / f"run{run}")
            total = time.perf_counter() - t0
            if run == 0:
                print(f"warm-up run: {total:.2f} s")
                continue
            rows.append((total, dict(song.timings_s), song.info["duration_s"]))
    duration = rows[0][2]
    how = "one RenderPool for all runs" if args.render_pool else "render processes per song"
    print(f"\nstyle {args.style}, song length {duration:.1f} s, {args.runs} timed runs (median), "
          f"{how}")
    print(f"{'stage':<10} {'seconds':>8} {'x real time':>12}")
    for stage in pipeline.STAGES:
        t = statistics.median(r[1].get(stage, 0.0) for r in rows)
        print(f"{stage:<10} {t:8.2f} {duration / max(t, 1e-9):12.0f}")
    total = statistics.median(r[0] for r in rows)
    print(f"{'total':<10} {total:8.2f} {duration / total:12.1f}")
    print(f"target: under 10 s for a 3-minute song -> {'PASS' if total < 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
