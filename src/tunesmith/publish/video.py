"""Music visualizer: H.264 + AAC MP4 (PyAV), exactly as long as the audio it carries.

What moves is taken from the music: a spectrum of the audio (log-spaced bands, fast attack,
slow fall), a pulse on every beat whose strength is the audio's low-band onset at that beat,
the melody's notes scrolling past a playhead and lighting up as they sound, and each section's
name as it begins. Frames are drawn straight into YUV 4:2:0 planes with NumPy (no per-frame
RGB conversion) over a background rendered once; x264 encodes on its own threads while the
next frame is drawn.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.publish.cover import Palette, find_font
from tunesmith.score import Note, Section

log = logging.getLogger(__name__)

VIDEO_FPS = 15
LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)
AAC_BITRATE = 192_000
X264_PRESET = "ultrafast"
X264_CRF = 23
N_BANDS = 48
SPECTRUM_FALL_PER_S = 1.8  # band level (0..1) lost per second after a peak
ROLL_WINDOW_S = (3.0, 5.0)  # seconds of melody shown before and after the playhead
SECTION_TITLE_S = 2.5
SHORT_MAX_S = 60.0


class VideoError(TunesmithError):
    """The visualizer could not be made."""


@dataclass(frozen=True, slots=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    roll: Box
    spectrum: Box
    title_xy: tuple[int, int]
    title_size: int

    @classmethod
    def for_size(cls, width: int, height: int) -> Layout:
        if width >= height:
            return cls(width, height, Box(80, 190, width - 80, 610),
                       Box(80, 690, width - 80, 1010), (80, 60), 54)
        return cls(width, height, Box(60, 420, width - 60, 1180),
                   Box(60, 1300, width - 60, 1760), (60, 110), 64)


@dataclass(frozen=True, slots=True)
class VideoSong:
    """What the visualizer shows: melody in seconds, beats, sections in seconds."""

    melody: tuple[tuple[float, float, int], ...]  # (start_s, end_s, pitch)
    beats_s: tuple[float, ...]
    downbeat_every: int
    sections: tuple[tuple[float, str], ...]  # (start_s, label)

    @classmethod
    def from_score(cls, melody: Sequence[Note], *, seconds_per_beat: float, length_beats: float,
                   beats_per_bar: int, sections: Sequence[Section]) -> VideoSong:
        mel = tuple((n.start_beat * seconds_per_beat, n.end_beat * seconds_per_beat, n.pitch)
                    for n in melody)
        beats = tuple(b * seconds_per_beat for b in range(int(math.ceil(length_beats))))
        secs = tuple((s.start_beat * seconds_per_beat, s.label) for s in sections)
        return cls(mel, beats, beats_per_bar, secs)


# ---------------------------------------------------------------- colour and planes

def rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.709 limited range. (..., 3) uint8/float -> Y, U, V float arrays."""
    x = np.asarray(rgb, dtype=np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + 46.559 * r + 156.629 * g + 15.812 * b
    u = 128 - 25.664 * r - 86.336 * g + 112.0 * b
    v = 128 + 112.0 * r - 101.730 * g - 10.270 * b
    return y, u, v


def _yuv(c: tuple[int, int, int]) -> tuple[int, int, int]:
    y, u, v = rgb_to_yuv(np.array(c, dtype=np.float32))
    return int(round(float(y))), int(round(float(u))), int(round(float(v)))


class Frame:
    """Y (h, w) and U, V (h/2, w/2) uint8 planes in one (h*3/2, w) buffer, as yuv420p."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.buf = np.zeros((height * 3 // 2, width), dtype=np.uint8)
        self.y = self.buf[:height]
        uv = self.buf[height:].reshape(2, height // 2, width // 2)
        self.u, self.v = uv[0], uv[1]

    def rect(self, x0: int, y0: int, x1: int, y1: int, yuv: tuple[int, int, int]) -> None:
        x0, x1 = max(0, x0), min(self.w, x1)
        y0, y1 = max(0, y0), min(self.h, y1)
        if x1 <= x0 or y1 <= y0:
            return
        self.y[y0:y1, x0:x1] = yuv[0]
        self.u[y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2] = yuv[1]
        self.v[y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2] = yuv[2]

    def blend_mask(self, mask: np.ndarray, x: int, y: int, yuv: tuple[int, int, int],
                   strength: float = 1.0) -> None:
        """Blend colour `yuv` through `mask` (float 0..1, even size) with its corner at x, y."""
        mh, mw = mask.shape
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.w, x + mw), min(self.h, y + mh)
        if x1 <= x0 or y1 <= y0 or strength <= 0:
            return
        m = mask[y0 - y:y1 - y, x0 - x:x1 - x] * np.float32(min(1.0, strength))
        ys = self.y[y0:y1, x0:x1]
        ys[...] = (ys + (yuv[0] - ys.astype(np.float32)) * m).astype(np.uint8)
        mc = m[::2, ::2]
        for plane, val in ((self.u, yuv[1]), (self.v, yuv[2])):
            p = plane[y0 // 2:y0 // 2 + mc.shape[0], x0 // 2:x0 // 2 + mc.shape[1]]
            mcc = mc[:p.shape[0], :p.shape[1]]
            p[...] = (p + (val - p.astype(np.float32)) * mcc).astype(np.uint8)


def _text_mask(text: str, size: int, *, bold: bool = True) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(find_font(bold)), size)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 8, bottom - top + 8
    w += w % 2
    h += h % 2
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), text, font=font, fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def _background(layout: Layout, palette: Palette, title: str, artist: str) -> Frame:
    w, h = layout.width, layout.height
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    top = np.array(palette.background_top, np.float32)
    bottom = np.array(palette.background_bottom, np.float32)
    col = top * (1 - t) + bottom * t  # (h, 3)
    y, u, v = rgb_to_yuv(col)
    frame = Frame(w, h)
    frame.y[:] = np.clip(y, 0, 255).astype(np.uint8)[:, None]
    frame.u[:] = np.clip(u[::2], 0, 255).astype(np.uint8)[:, None]
    frame.v[:] = np.clip(v[::2], 0, 255).astype(np.uint8)[:, None]
    tx, ty = layout.title_xy
    title_mask = _text_mask(title, layout.title_size)
    frame.blend_mask(title_mask, tx, ty, _yuv(palette.text))
    artist_mask = _text_mask(artist, int(layout.title_size * 0.6), bold=False)
    frame.blend_mask(artist_mask, tx, ty + title_mask.shape[0] + 6, _yuv(palette.highlight), 0.9)
    r = layout.roll
    frame.rect(r.x0, r.y1 + 12, r.x1, r.y1 + 14, _yuv(palette.background_top))
    return frame


# ---------------------------------------------------------------- audio analysis

def band_levels(mono: np.ndarray, *, sample_rate: int, times_s: np.ndarray,
                n_bands: int = N_BANDS, fps: float = VIDEO_FPS) -> np.ndarray:
    """(frames, n_bands) 0..1: log-spaced band energy in dB relative to the loudest, with a
    fast attack and a slow fall."""
    n_fft = 2048
    pad = np.pad(mono.astype(np.float32), (n_fft // 2, n_fft))
    idx = np.clip((times_s * sample_rate).astype(np.int64), 0, len(mono))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[idx]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = np.geomspace(40.0, min(16000.0, sample_rate / 2 - 1), n_bands + 1)
    bins = np.clip(np.searchsorted(freqs, edges), 1, len(freqs) - 1)
    energy = np.stack([spec[:, bins[i]:max(bins[i] + 1, bins[i + 1])].mean(axis=1)
                       for i in range(n_bands)], axis=1)
    db = 10 * np.log10(energy + 1e-12)
    db -= np.percentile(db, 99.5)
    level = np.clip((db + 50.0) / 50.0, 0.0, 1.0)
    fall = SPECTRUM_FALL_PER_S / fps
    out = np.empty_like(level)
    cur = np.zeros(n_bands, dtype=level.dtype)
    for k in range(len(level)):
        cur = np.maximum(level[k], cur - fall)
        out[k] = cur
    return out


def beat_pulses(mono: np.ndarray, *, sample_rate: int, beats_s: Sequence[float],
                times_s: np.ndarray, downbeat_every: int) -> np.ndarray:
    """0..1 per frame: a decaying pulse from each beat, as strong as the audio's low-band
    onset at that beat (downbeats a little stronger)."""
    from scipy.signal import butter, sosfilt

    # the low band needs no more than ~1.4 kHz of sample rate: average blocks of 32 first
    factor = 32
    n = len(mono) // factor * factor
    small = mono[:n].reshape(-1, factor).mean(axis=1)
    rate = sample_rate / factor
    sos = butter(2, 160.0, btype="low", fs=rate, output="sos")
    low = np.abs(sosfilt(sos, small)).astype(np.float32)
    hop = max(1, int(round(rate / 100)))
    env = np.sqrt(np.add.reduceat(low ** 2, np.arange(0, len(low), hop)) / hop)
    strength = []
    for b in beats_s:
        i = int(b * 100)
        prev = env[max(0, i - 8):max(1, i - 1)]
        nxt = env[i:i + 8]
        before = float(prev.mean()) if i > 1 and prev.size else 0.0
        after = float(nxt.max()) if nxt.size else 0.0
        strength.append(max(0.0, after - 0.6 * before))
    s = np.asarray(strength, dtype=np.float32)
    if s.size and s.max() > 0:
        s = 0.35 + 0.65 * s / np.percentile(s, 95).clip(min=1e-9)
    s = np.clip(s, 0, 1.2)
    beats = np.asarray(beats_s, dtype=np.float64)
    out = np.zeros(len(times_s), dtype=np.float32)
    if not beats.size:
        return out
    k = np.searchsorted(beats, times_s, side="right") - 1
    ok = k >= 0
    since = np.where(ok, times_s - beats[np.maximum(k, 0)], 1e9)
    accent = np.where((np.maximum(k, 0) % max(1, downbeat_every)) == 0, 1.0, 0.75)
    out[ok] = (s[k[ok]] * accent[ok] * np.exp(-since[ok] / 0.16)).astype(np.float32)
    return np.clip(out, 0, 1)


# ---------------------------------------------------------------- drawing

class _Painter:
    def __init__(self, layout: Layout, palette: Palette, song: VideoSong, title: str,
                 artist: str) -> None:
        self.layout = layout
        self.pal = {k: _yuv(getattr(palette, k)) for k in
                    ("primary", "secondary", "highlight", "text", "background_top")}
        self.background = _background(layout, palette, title, artist)
        self.song = song
        pitches = [p for _, _, p in song.melody] or [60]
        self.pmin, self.pmax = min(pitches) - 2, max(pitches) + 2
        r = layout.roll
        glow = 420 if layout.width > layout.height else 520
        yy, xx = np.mgrid[-glow // 2:glow // 2, -glow // 2:glow // 2].astype(np.float32)
        self.glow = np.exp(-(xx ** 2 + yy ** 2) / (2 * (glow / 6) ** 2)).astype(np.float32)
        self.playhead_x = r.x0 + int(0.32 * (r.x1 - r.x0))
        self.labels: dict[str, np.ndarray] = {}
        self.big: dict[str, np.ndarray] = {}
        for _, label in song.sections:
            self.labels[label] = _text_mask(label, int(layout.title_size * 0.6))
            self.big[label] = _text_mask(label, int(layout.title_size * 1.8))

    def _pitch_y(self, pitch: float) -> int:
        r = self.layout.roll
        frac = (pitch - self.pmin) / max(1, self.pmax - self.pmin)
        return int(r.y1 - frac * (r.y1 - r.y0))

    def paint(self, frame: Frame, t: float, levels: np.ndarray, pulse: float,
              progress: float) -> None:
        np.copyto(frame.buf, self.background.buf)
        lay, pal = self.layout, self.pal
        r = lay.roll
        note_h = max(8, int((r.y1 - r.y0) / max(12, self.pmax - self.pmin) * 0.8))
        # beat pulse: a glow behind the playhead, on the current melody note's height
        current = [p for s, e, p in self.song.melody if s <= t < e]
        gy = self._pitch_y(current[0]) if current else (r.y0 + r.y1) // 2
        frame.blend_mask(self.glow, self.playhead_x - self.glow.shape[1] // 2,
                         gy - self.glow.shape[0] // 2, pal["secondary"], 0.9 * pulse)
        # melody notes around the playhead
        before, after = ROLL_WINDOW_S
        px_per_s = (r.x1 - self.playhead_x) / after
        for s, e, p in self.song.melody:
            if e < t - before or s > t + after:
                continue
            x0 = self.playhead_x + int((s - t) * px_per_s)
            x1 = self.playhead_x + int((e - t) * px_per_s) - 3
            y = self._pitch_y(p)
            x0, x1 = max(x0, r.x0), min(x1, r.x1)
            if s <= t < e:
                frame.rect(x0, y - note_h // 2 - 3, x1, y + note_h // 2 + 3, pal["highlight"])
            elif e <= t:
                frame.rect(x0, y - note_h // 2, x1, y + note_h // 2, pal["secondary"])
            else:
                frame.rect(x0, y - note_h // 2, x1, y + note_h // 2, pal["primary"])
        frame.rect(self.playhead_x - 1, r.y0, self.playhead_x + 2, r.y1, pal["text"])
        # spectrum bars
        sp = lay.spectrum
        n = len(levels)
        width = (sp.x1 - sp.x0) / n
        gap = max(2, int(width * 0.22))
        for i, lv in enumerate(levels):
            h = int(lv * (sp.y1 - sp.y0))
            if h <= 1:
                continue
            x0 = sp.x0 + int(i * width)
            colour = pal["primary"] if lv < 0.8 else pal["highlight"]
            frame.rect(x0, sp.y1 - h, x0 + int(width) - gap, sp.y1, colour)
        # section label (corner) and a big title as a section begins
        sec = [(s, label) for s, label in self.song.sections if s <= t]
        if sec:
            start, label = sec[-1]
            mask = self.labels[label]
            frame.blend_mask(mask, lay.width - mask.shape[1] - lay.title_xy[0], lay.title_xy[1] + 8,
                             pal["highlight"], 0.9)
            age = t - start
            if age < SECTION_TITLE_S:
                big = self.big[label]
                alpha = min(1.0, age / 0.3) * min(1.0, (SECTION_TITLE_S - age) / 0.6)
                frame.blend_mask(big, (lay.width - big.shape[1]) // 2,
                                 r.y0 + (r.y1 - r.y0 - big.shape[0]) // 2, pal["text"], alpha)
        # progress
        frame.rect(0, lay.height - 8, int(lay.width * progress), lay.height, pal["secondary"])


# ---------------------------------------------------------------- encoding

@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: int
    frames: int
    duration_s: float
    start_s: float


def render_video(path: Path, *, audio: np.ndarray, sample_rate: int, song: VideoSong,
                 palette: Palette, title: str, artist: str, size: tuple[int, int] = LANDSCAPE,
                 fps: int = VIDEO_FPS, start_s: float = 0.0, end_s: float | None = None,
                 ) -> VideoInfo:
    """Write an MP4 of `audio[start_s:end_s]` (float (2, n)) with its visualisation."""
    import av

    x = np.ascontiguousarray(audio, dtype=np.float32)
    total = x.shape[1]
    a = int(round(start_s * sample_rate))
    b = total if end_s is None else min(total, int(round(end_s * sample_rate)))
    if b - a < sample_rate // 2:
        raise VideoError("the video needs at least half a second of audio")
    clip = x[:, a:b].copy()
    if a > 0 or b < total:  # fade a cut in and out so it does not click
        ramp = np.linspace(0.0, 1.0, int(0.05 * sample_rate), dtype=np.float32)
        clip[:, :ramp.size] *= ramp
        clip[:, -ramp.size:] *= ramp[::-1]
    duration = clip.shape[1] / sample_rate
    n_frames = max(1, int(round(duration * fps)))
    times = start_s + (np.arange(n_frames) + 0.5) / fps
    mono = x.mean(axis=0)
    levels = band_levels(mono, sample_rate=sample_rate, times_s=times, fps=fps)
    pulses = beat_pulses(mono, sample_rate=sample_rate, beats_s=song.beats_s, times_s=times,
                         downbeat_every=song.downbeat_every)
    layout = Layout.for_size(*size)
    painter = _Painter(layout, palette, song, title, artist)
    frame = Frame(*size)
    try:
        container = av.open(str(path), "w", format="mp4")
    except (OSError, av.FFmpegError) as exc:
        raise VideoError(f"cannot write {path.name}: {exc}") from exc
    try:
        vs = container.add_stream("libx264", rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": X264_PRESET, "crf": str(X264_CRF), "tune": "animation",
                      "x264-params": "colorprim=bt709:transfer=bt709:colormatrix=bt709"}
        aus = container.add_stream("aac", rate=sample_rate, layout="stereo")
        aus.bit_rate = AAC_BITRATE
        aus.options = {"aac_coder": "fast"}
        chunk = 1024 * 16

        def push_audio(pos: int, upto: int) -> int:
            """Encode and mux whole chunks of the clip from pos until upto is covered."""
            while pos < upto:
                end = min(clip.shape[1], pos + chunk)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(clip[:, pos:end]),
                                                format="fltp", layout="stereo")
                af.sample_rate = sample_rate
                af.pts = pos
                for pkt in aus.encode(af):
                    container.mux(pkt)
                pos = end
            return pos

        apos = 0
        audio_per_frame = sample_rate / fps
        for k in range(n_frames):
            painter.paint(frame, float(times[k]), levels[k], float(pulses[k]),
                          (k + 1) / n_frames)
            vf = av.VideoFrame.from_ndarray(frame.buf, format="yuv420p")
            vf.pts = k
            for pkt in vs.encode(vf):
                container.mux(pkt)
            # interleave the audio as the video goes
            apos = push_audio(apos, min(clip.shape[1], int((k + 1) * audio_per_frame)))
        push_audio(apos, clip.shape[1])
        for stream in (vs, aus):
            for pkt in stream.encode(None):
                container.mux(pkt)
    except av.FFmpegError as exc:
        raise VideoError(f"video encoding failed: {exc}") from exc
    finally:
        container.close()
    return VideoInfo(path=path.name, width=size[0], height=size[1], fps=fps, frames=n_frames,
                     duration_s=round(duration, 3), start_s=round(start_s, 3))


def chorus_window(sections: Sequence[tuple[float, float, str, str, float]],
                  *, max_s: float = SHORT_MAX_S) -> tuple[float, float, str]:
    """(start_s, end_s, label) of the vertical cut: the first chorus, else the most energetic
    section; (start, end, label, kind, energy) tuples in seconds."""
    if not sections:
        raise VideoError("the song has no sections to cut a chorus from")
    chorus = [s for s in sections if s[3] == "chorus"]
    pick = chorus[0] if chorus else max(sections, key=lambda s: s[4])
    start, end = pick[0], min(pick[1], pick[0] + max_s)
    return start, end, pick[2]


def describe(info: VideoInfo) -> dict[str, Any]:
    return {"file": info.path, "width": info.width, "height": info.height, "fps": info.fps,
            "frames": info.frames, "duration_s": info.duration_s, "start_s": info.start_s,
            "video_codec": "H.264", "audio_codec": "AAC"}
