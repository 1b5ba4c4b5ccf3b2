"""RenderPool: worker processes that keep a loaded SoundFont across songs.

    with RenderPool(workers=2) as pool:
        for score in scores:
            stems = pool.render(score)

Each worker is a spawned process holding one renderer (so one SoundFont load) for its whole
life. A song's stems are handed out one at a time, heaviest first, to whichever worker is free;
the score travels once per worker per song and each stem comes back as raw float32 bytes read
straight into the array that is returned. A worker that dies is replaced and its stem rendered
again (`retries` times), after that the render fails with a RenderError that says so.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.render.base import (
    DEFAULT_SAMPLE_RATE,
    RenderedStem,
    RenderError,
    song_length_samples,
    stems_from,
    tracks_to_render,
)
from tunesmith.score import Score, Track

log = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 4
STOP_TIMEOUT_S = 5.0
# Scheduling guess before a pool has timed an instrument: CPU seconds per second of sounding
# note, per note (attack and release), and per second of song (the synth's fixed cost).
_GUESS_PER_NOTE_S = 0.5
_GUESS_RATE = 2e-3
_RATE_MEMORY = 0.5  # weight of the newest timing in an instrument's running rate


def default_workers(n_tracks: int) -> int:
    return max(1, min(os.cpu_count() or 1, DEFAULT_MAX_WORKERS, n_tracks))


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker process: its pid, how often it loaded the SoundFont, what it rendered, and
    the CPU seconds it has used (its own clock: the parent cannot see a live child's)."""

    pid: int
    soundfont_loads: int
    songs: int
    stems: int
    cpu_s: float


class _WorkerDiedError(Exception):
    pass


def _worker_main(conn: Connection, backend: str, soundfont: str | None, sample_rate: int) -> None:
    """A worker process: load the renderer once, then render stems until told to stop or the
    parent goes away. Runs in a spawned child; the renderer is this function's local."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from tunesmith.render import RENDERERS

    try:
        renderer = RENDERERS[backend](Path(soundfont) if soundfont else None,
                                      sample_rate=sample_rate)
    except Exception as exc:  # report anything, the parent turns it into a RenderError
        why = str(exc) if isinstance(exc, TunesmithError) else (
            f"the {backend} renderer could not start: {type(exc).__name__}: {exc}")
        _answer_failed(conn, why)
        return
    conn.send(("ready", os.getpid()))
    songs = stems = 0
    token: int | None = None
    score: Score | None = None
    buffer = np.empty(0, dtype=np.float32)  # reused across stems and songs
    try:
        while True:
            msg = conn.recv()
            kind = msg[0]
            if kind == "stop":
                return
            if kind == "stats":
                usage = os.times()
                conn.send(("stats", WorkerStats(
                    pid=os.getpid(), soundfont_loads=getattr(renderer, "soundfont_loads", 1),
                    songs=songs, stems=stems, cpu_s=usage.user + usage.system)))
            elif kind == "score":
                token, score = msg[1], pickle.loads(conn.recv_bytes())
                songs += 1
            elif kind == "stem":
                _, want, index, n = msg
                if want != token or score is None:
                    conn.send(("error", index, "render worker got a stem of a song it never saw"))
                    continue
                if buffer.size < 2 * n:
                    buffer = np.empty(2 * n, dtype=np.float32)
                out = buffer[: 2 * n].reshape(2, n)
                t0 = time.process_time()
                try:
                    renderer.render_track(score.tracks[index], score, sample_rate=sample_rate,
                                          n_samples=n, out=out)
                except Exception as exc:
                    conn.send(("error", index, str(exc) if isinstance(exc, TunesmithError)
                               else f"{type(exc).__name__}: {exc}"))
                    continue
                stems += 1
                conn.send(("done", index, time.process_time() - t0))
                _write_all(conn.fileno(), memoryview(out).cast("B"))
    except (EOFError, OSError):
        return  # the parent has gone (or was killed): nothing to answer to
    finally:
        renderer.close()


def _write_all(fd: int, data: memoryview) -> None:
    """Raw bytes after a "done" message: no framing and no copy (the parent knows the size)."""
    while data:
        data = data[os.write(fd, data):]


def _answer_failed(conn: Connection, why: str) -> None:
    """A worker whose renderer could not start stays up and answers every request with the
    reason, so the parent reports it (not a dead process) and the protocol stays in step."""
    while True:
        try:
            msg = conn.recv()
            if msg[0] == "stop":
                return
            if msg[0] == "score":
                conn.recv_bytes()
                continue
            conn.send(("failed", why))
        except (EOFError, OSError):
            return


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, ctx: Any, backend: str, soundfont: str | None, sample_rate: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, backend, soundfont, sample_rate),
                                name="tunesmith-render", daemon=True)
        self.proc.start()
        child.close()
        self.pid: int | None = self.proc.pid
        self.token: int | None = None  # the song whose score this worker holds

    def send(self, *msg: Any) -> None:
        try:
            self.conn.send(msg)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _WorkerDiedError from exc

    def send_bytes(self, blob: bytes) -> None:
        try:
            self.conn.send_bytes(blob)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _WorkerDiedError from exc

    def recv(self) -> tuple[Any, ...]:
        """The next reply, start-up messages consumed: 'failed' at start-up raises RenderError."""
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, ConnectionResetError, OSError) as exc:
                raise _WorkerDiedError from exc
            if msg[0] == "ready":
                self.pid = msg[1]
                continue
            if msg[0] == "failed":
                raise RenderError(msg[1])
            return msg

    def recv_into(self, out: np.ndarray) -> None:
        """Read a stem's raw bytes straight into `out` (Connection.recv_bytes_into would
        gather them in a BytesIO first: two more copies of every stem)."""
        view = memoryview(out).cast("B")
        fd = self.conn.fileno()
        got = 0
        try:
            while got < len(view):
                n = os.readv(fd, [view[got:]])
                if n == 0:
                    raise _WorkerDiedError
                got += n
        except OSError as exc:
            raise _WorkerDiedError from exc

    def exit_reason(self) -> str:
        self.proc.join(timeout=1.0)
        code = self.proc.exitcode
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def stop(self, timeout_s: float) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("stop",))
        self.proc.join(timeout=timeout_s)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=1.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=1.0)
        self.conn.close()


def _shutdown(workers: list[_Worker]) -> None:
    for w in workers:
        w.stop(STOP_TIMEOUT_S)
    workers.clear()


class RenderPool:
    """Renders scores with `workers` long-lived processes, each loading the SoundFont once.

    Processes start (and begin loading) in the constructor, so a caller can open the pool
    early and let the start-up overlap other work. Use it as a context manager or call
    `close()`. One song at a time: `render` holds a lock, calls from other threads wait."""

    def __init__(self, workers: int | None = None, *, sample_rate: int = DEFAULT_SAMPLE_RATE,
                 backend: str = "fluidsynth", soundfont: Path | None = None,
                 retries: int = 1) -> None:
        import multiprocessing as mp

        from tunesmith.render import RENDERERS

        if backend not in RENDERERS:
            raise RenderError(f"unknown renderer '{backend}' (have: {', '.join(RENDERERS)})")
        n = workers if workers is not None else default_workers(DEFAULT_MAX_WORKERS)
        if n < 1:
            raise RenderError(f"a render pool needs at least one worker, not {n}")
        if retries < 0:
            raise RenderError(f"retries must be 0 or more, not {retries}")
        self.sample_rate = sample_rate
        self.backend = backend
        self.soundfont = soundfont
        self.retries = retries
        # FluidSynth holds threads and locks: never fork after it was used, spawn fresh workers.
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)
        self._rates: dict[tuple[bool, int], float] = {}  # CPU s per unit of _work, per instrument
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)
        for _ in range(n):
            self._workers.append(self._spawn())

    @property
    def workers(self) -> int:
        return len(self._workers)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (they free their SoundFont); safe to call twice."""
        with self._lock:
            self._closed = True
            self._finalizer()

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self.backend, str(self.soundfont) if self.soundfont else None,
                       self.sample_rate)

    def _replace(self, w: _Worker) -> _Worker:
        w.stop(0.0)
        new = self._spawn()
        self._workers[self._workers.index(w)] = new
        return new

    def _check_open(self) -> None:
        if self._closed:
            raise RenderError("the render pool is closed")

    def stats(self) -> list[WorkerStats]:
        """Each worker's counters (a dead worker is replaced first, so its counters restart)."""
        with self._lock:
            self._check_open()
            out = []
            for w in list(self._workers):
                for attempt in range(2):
                    try:
                        w.send("stats")
                        out.append(w.recv()[1])
                        break
                    except _WorkerDiedError:
                        log.warning("render worker %s %s; starting another", w.pid, w.exit_reason())
                        w = self._replace(w)
                        if attempt:
                            raise RenderError("a new render worker died at once") from None
            return out

    def _work(self, track: Track, seconds_per_beat: float) -> float:
        return (sum(n.duration_beats for n in track.notes) * seconds_per_beat
                + _GUESS_PER_NOTE_S * len(track.notes))

    def _estimate(self, track: Track, seconds_per_beat: float) -> float:
        rate = self._rates.get((track.is_drum, track.program), _GUESS_RATE)
        return rate * self._work(track, seconds_per_beat)

    def _learn(self, track: Track, seconds_per_beat: float, cpu_s: float) -> None:
        work = self._work(track, seconds_per_beat)
        if work <= 0 or cpu_s <= 0:
            return
        key = (track.is_drum, track.program)
        old = self._rates.get(key)
        rate = cpu_s / work
        self._rates[key] = rate if old is None else (1 - _RATE_MEMORY) * old + _RATE_MEMORY * rate

    def render(self, score: Score, *, sample_rate: int | None = None,
               tracks: Sequence[str] | None = None) -> list[RenderedStem]:
        """Render every (or the named) track of `score` to a stereo float32 stem, all the same
        length (the song plus a release tail), at the pool's sample rate (`sample_rate`, if
        given, must be that rate)."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise RenderError(f"this render pool runs at {self.sample_rate} Hz, not {sample_rate} Hz")
        with self._lock:
            self._check_open()
            chosen = tracks_to_render(score, tracks)
            audio = _Song(self, score, chosen).run()
        log.info("rendered %d stems (%.1f s) on %d workers", len(chosen), score.duration_s,
                 len(self._workers))
        return stems_from(score, chosen, audio)


class _Song:
    """One song's trip through the pool: stems handed out heaviest first to whichever worker is
    free, answers gathered, dead workers replaced and their stem handed out again."""

    def __init__(self, pool: RenderPool, score: Score, chosen: list[int]) -> None:
        self.pool = pool
        self.score = score
        self.n = song_length_samples(score, sample_rate=pool.sample_rate)
        spb = score.seconds_per_beat
        self.todo = deque(sorted(chosen, key=lambda i: -pool._estimate(score.tracks[i], spb)))
        self.blob = pickle.dumps(score, protocol=pickle.HIGHEST_PROTOCOL)
        self.token = next(pool._tokens)
        self.audio: dict[int, np.ndarray] = {}
        self.busy: dict[_Worker, int] = {}
        self.deaths: dict[int, int] = {}
        self.failure: RenderError | None = None

    def run(self) -> dict[int, np.ndarray]:
        try:
            while True:
                self._hand_out()
                if not self.busy:
                    if self.failure or not self.todo:
                        break
                    continue
                self._gather()
        except BaseException:
            # Interrupted mid-song (Ctrl-C, out of memory): a busy worker's answer would land
            # in the next song, so it is replaced.
            for w in list(self.busy):
                self.pool._replace(w)
            raise
        if self.failure is not None:
            raise self.failure
        return self.audio

    def _hand_out(self) -> None:
        for w in list(self.pool._workers):
            if self.failure or not self.todo:
                return
            if w in self.busy:
                continue
            index = self.todo.popleft()
            try:
                if w.token != self.token:
                    w.send("score", self.token)
                    w.send_bytes(self.blob)
                    w.token = self.token
                w.send("stem", self.token, index, self.n)
                self.busy[w] = index
            except _WorkerDiedError:
                self._died(w, index)

    def _gather(self) -> None:
        """Wait for answers (or deaths) and take in the ones that are there."""
        by_conn = {w.conn: w for w in self.busy}
        by_sentinel = {w.proc.sentinel: w for w in self.busy}
        for ready in wait([*by_conn, *by_sentinel]):
            w = by_conn[ready] if ready in by_conn else by_sentinel[ready]
            if w not in self.busy:
                continue
            index = self.busy.pop(w)
            if ready in by_sentinel and not w.conn.poll():
                self._died(w, index)  # gone without an answer
                continue
            try:
                msg = w.recv()
                if msg[0] == "done":
                    out = np.empty((2, self.n), dtype=np.float32)
                    w.recv_into(out)
                    self.audio[index] = out
                    self.pool._learn(self.score.tracks[index], self.score.seconds_per_beat, msg[2])
                else:  # ("error", index, message): the track itself cannot be rendered
                    self.failure = self.failure or RenderError(
                        f"could not render the track '{self.score.tracks[index].name}': {msg[2]}")
            except _WorkerDiedError:
                self._died(w, index)
            except RenderError as exc:  # the worker's renderer could not start
                self.failure = self.failure or exc

    def _died(self, w: _Worker, index: int) -> None:
        reason = w.exit_reason()
        name = self.score.tracks[index].name
        log.warning("render worker %s %s with %s to render; starting another", w.pid, reason, name)
        self.pool._replace(w)
        self.deaths[index] = self.deaths.get(index, 0) + 1
        if self.deaths[index] <= self.pool.retries:
            self.todo.appendleft(index)
        elif self.failure is None:
            self.failure = RenderError(
                f"a render worker process {reason} with the track '{name}' to render "
                f"({self.deaths[index]} time(s)); it has been replaced, but this song was not "
                "rendered")
