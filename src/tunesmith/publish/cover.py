"""Cover art generated from the song itself: 3000x3000 RGB JPEG, as distributors require.

- Palette from key and mood: the tonic's place on the circle of fifths picks the hue, the mode
  and the song's mood (valence) warm or cool it, tempo and section energy (arousal) set
  saturation and contrast.
- Forms from the music: the hook's melody contour is drawn as a ribbon of echoing lines, the
  rhythm of the busiest bar as a wheel of spokes (one ring per instrument, one spoke per
  onset), and the energy of every bar as a skyline along the bottom.
- Title and artist in a real TrueType font (DejaVu, from the system or the copy matplotlib
  ships).
The same song and seed give the same bytes; the seed moves and turns the forms.
"""

from __future__ import annotations

import colorsys
import importlib.util
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Score

COVER_SIZE_PX = 3000
JPEG_QUALITY = 92
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"),
              Path("/usr/share/fonts/dejavu"))
_MOOD_WORDS = {  # valence, arousal nudges for words a brief may use
    "happy": (0.5, 0.2), "joyful": (0.5, 0.3), "uplifting": (0.4, 0.3), "bright": (0.4, 0.1),
    "sad": (-0.5, -0.2), "melancholic": (-0.5, -0.2), "dark": (-0.6, 0.0), "moody": (-0.3, 0.0),
    "calm": (0.1, -0.4), "chill": (0.1, -0.4), "relaxed": (0.1, -0.4), "dreamy": (0.1, -0.3),
    "energetic": (0.2, 0.5), "aggressive": (-0.3, 0.6), "angry": (-0.5, 0.6),
    "romantic": (0.3, -0.1), "epic": (0.1, 0.5), "nostalgic": (-0.1, -0.2),
}


class CoverError(TunesmithError):
    """The cover could not be drawn."""


@dataclass(frozen=True, slots=True)
class Palette:
    """Colours as 0-255 RGB triples."""

    background_top: tuple[int, int, int]
    background_bottom: tuple[int, int, int]
    primary: tuple[int, int, int]
    secondary: tuple[int, int, int]
    highlight: tuple[int, int, int]
    text: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class CoverDesign:
    """Everything the picture is drawn from (so video and cover share it)."""

    palette: Palette
    valence: float  # -1 sad/dark .. +1 happy/bright
    arousal: float  # -1 calm .. +1 energetic
    contour: tuple[float, ...]  # hook melody, pitch 0..1 per sixteenth step
    rhythm: tuple[tuple[float, ...], ...]  # per instrument ring: onset positions 0..1 in a bar
    bar_energy: tuple[float, ...]  # 0..1 per bar
    seed: int


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, max(0.0, min(1.0, s)), max(0.0, min(1.0, v)))
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def mood_of(score: Score, info: dict[str, Any]) -> tuple[float, float]:
    """(valence, arousal) in -1..1 from mode, tempo, section energy and any mood words."""
    valence = 0.35 if score.key.mode == "major" else -0.35
    energies = [s.energy for s in score.sections] or [0.5]
    arousal = (min(max(score.tempo_bpm, 60.0), 180.0) - 110.0) / 70.0 * 0.6 \
        + (float(np.mean(energies)) - 0.55) * 1.5
    words = " ".join(str(info.get(k, "")) for k in ("mood", "prompt", "style")).lower()
    for word, (dv, da) in _MOOD_WORDS.items():
        if word in words:
            valence += dv
            arousal += da
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))


def make_palette(score: Score, valence: float, arousal: float) -> Palette:
    """Bright forms in the key's hue over a deep background in a contrasting one."""
    fifths = (score.key.tonic * 7) % 12
    hue = fifths / 12.0 + (-0.04 if valence < 0 else 0.02)
    sat = 0.55 + 0.3 * (arousal + 1) / 2
    deep = 0.13 + 0.08 * (valence + 1) / 2
    ground = hue + (0.55 if valence >= 0 else 0.62)
    offset = 0.5 if arousal > 0.2 else (0.33 if valence >= 0 else 0.08)  # complement/triad/analogous
    return Palette(
        background_top=_rgb(ground + 0.04, 0.55 + 0.2 * sat, deep + 0.08),
        background_bottom=_rgb(ground - 0.03, 0.7 + 0.2 * sat, deep * 0.6),
        primary=_rgb(hue, sat, 0.92 + 0.06 * valence),
        secondary=_rgb(hue + offset, sat * 0.9, 0.82 + 0.1 * valence),
        highlight=_rgb(hue + offset / 2, 0.2, 0.98),
        text=(248, 246, 240),
    )


def _hook_contour(score: Score) -> tuple[float, ...]:
    melody = next((t.notes for t in score.tracks if t.role == "melody" or t.name == "melody"), [])
    if not melody:
        return (0.5,) * 16
    chorus = next((s for s in score.sections if s.kind == "chorus"), None)
    lo, hi = (chorus.start_beat, chorus.end_beat) if chorus else (0.0, score.length_beats)
    notes = [n for n in melody if lo <= n.start_beat < hi] or list(melody)
    notes = notes[:64]
    start = notes[0].start_beat
    steps = int(math.ceil((notes[-1].end_beat - start) * 4)) or 1
    pitches = np.array([n.pitch for n in notes], dtype=float)
    pmin, pmax = pitches.min(), pitches.max()
    span = max(pmax - pmin, 5.0)
    curve = np.full(steps, np.nan)
    for n in notes:
        a = int((n.start_beat - start) * 4)
        b = max(a + 1, int((n.end_beat - start) * 4))
        curve[a:b] = (n.pitch - pmin) / span
    idx = np.arange(steps)
    ok = ~np.isnan(curve)
    curve = np.interp(idx, idx[ok], curve[ok])
    return tuple(float(round(v, 4)) for v in curve)


def _rhythm_rings(score: Score) -> tuple[tuple[float, ...], ...]:
    bar = score.beats_per_bar
    rings = []
    for t in score.tracks:
        if not t.notes:
            continue
        per_bar: dict[int, set[float]] = {}
        for n in t.notes:
            per_bar.setdefault(int(n.start_beat // bar), set()).add(
                round(((n.start_beat % bar) / bar) * 16) / 16 % 1.0)
        busiest = max(per_bar.values(), key=len)
        rings.append(tuple(sorted(busiest)))
    return tuple(rings[:6]) or ((0.0, 0.25, 0.5, 0.75),)


def _bar_energy(score: Score) -> tuple[float, ...]:
    bar = score.beats_per_bar
    n_bars = max(1, int(math.ceil(score.length_beats / bar)))
    counts = np.zeros(n_bars)
    for t in score.tracks:
        for n in t.notes:
            counts[min(n_bars - 1, int(n.start_beat // bar))] += n.velocity / 127.0
    if counts.max() > 0:
        counts /= counts.max()
    return tuple(float(round(c, 4)) for c in counts)


def cover_design(score: Score, info: dict[str, Any], *, seed: int) -> CoverDesign:
    valence, arousal = mood_of(score, info)
    return CoverDesign(palette=make_palette(score, valence, arousal), valence=valence,
                       arousal=arousal, contour=_hook_contour(score), rhythm=_rhythm_rings(score),
                       bar_energy=_bar_energy(score), seed=seed)


def find_font(bold: bool = True) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in _FONT_DIRS:
        if (d / name).is_file():
            return d / name
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "mpl-data" / "fonts" / "ttf" / name
            if p.is_file():
                return p
    raise CoverError("no TrueType font found for the cover text (apt-get install fonts-dejavu-core)")


def render_cover(design: CoverDesign, *, title: str, artist: str,
                 size_px: int = COVER_SIZE_PX) -> Any:
    """The cover as a PIL RGB image."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(design.seed)
    pal = design.palette
    n = size_px
    # background: vertical gradient with a soft radial light
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None]
    top = np.array(pal.background_top, np.float32)
    bottom = np.array(pal.background_bottom, np.float32)
    bg = top * (1 - t) + bottom * t
    cx, cy = rng.uniform(0.25, 0.75) * n, rng.uniform(0.2, 0.5) * n
    yy, xx = np.ogrid[:n, :n]
    light = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.35 * n) ** 2))).astype(np.float32)
    bg = bg + light[..., None] * (np.array(pal.primary, np.float32) - bg) * 0.18
    shade = np.clip((t - 0.62) / 0.38, 0.0, 1.0) * 0.55  # darker under the title
    bg = bg * (1.0 - shade)
    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")

    layer = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    _draw_skyline(draw, design, n)
    _draw_wheel(draw, design, n, rng)
    _draw_ribbon(draw, design, n, rng)
    glow = layer.resize((n // 6, n // 6), Image.BILINEAR).filter(ImageFilter.GaussianBlur(6))
    glow = glow.resize((n, n), Image.BILINEAR)
    image = Image.alpha_composite(image.convert("RGBA"), glow)
    image = Image.alpha_composite(image, layer.filter(ImageFilter.GaussianBlur(1.2)))
    _draw_text(image, title=title, artist=artist, palette=pal)
    return image.convert("RGB")


def _rgba(c: tuple[int, int, int], a: float) -> tuple[int, int, int, int]:
    return c[0], c[1], c[2], int(round(255 * max(0.0, min(1.0, a))))


def _draw_skyline(draw: Any, d: CoverDesign, n: int) -> None:
    bars = d.bar_energy
    width = n / len(bars)
    base = n * 0.86
    for i, e in enumerate(bars):
        h = n * (0.02 + 0.16 * e)
        draw.rectangle([i * width + width * 0.12, base - h, (i + 1) * width - width * 0.12, base],
                       fill=_rgba(d.palette.secondary, 0.18 + 0.3 * e))


def _draw_wheel(draw: Any, d: CoverDesign, n: int, rng: np.random.Generator) -> None:
    rings = d.rhythm[:5]
    cx = n * rng.uniform(0.36, 0.64)
    cy = n * rng.uniform(0.30, 0.36)
    turn = rng.uniform(0, 2 * math.pi)
    r0 = n * (0.06 + 0.02 * (d.arousal + 1))
    ring_w = n * 0.03
    for k, ring in enumerate(rings):
        r_in = r0 + k * ring_w * 1.3
        colour = d.palette.primary if k % 2 == 0 else d.palette.secondary
        draw.ellipse([cx - r_in, cy - r_in, cx + r_in, cy + r_in],
                     outline=_rgba(colour, 0.35), width=max(2, n // 500))
        for pos in ring:
            ang = turn + 2 * math.pi * pos
            a = (cx + r_in * math.cos(ang), cy + r_in * math.sin(ang))
            b = (cx + (r_in + ring_w) * math.cos(ang), cy + (r_in + ring_w) * math.sin(ang))
            draw.line([a, b], fill=_rgba(colour, 0.95), width=max(6, n // 120))
            dot = n / 160
            draw.ellipse([b[0] - dot, b[1] - dot, b[0] + dot, b[1] + dot],
                         fill=_rgba(d.palette.highlight, 0.95))


def _draw_ribbon(draw: Any, d: CoverDesign, n: int, rng: np.random.Generator) -> None:
    contour = np.asarray(d.contour, dtype=float)
    steps = len(contour)
    x = np.linspace(-0.05 * n, 1.05 * n, steps * 4)
    y = np.interp(np.linspace(0, steps - 1, steps * 4), np.arange(steps), contour)
    kernel = np.hanning(9)
    y = np.convolve(np.pad(y, 4, mode="edge"), kernel / kernel.sum(), mode="valid")
    centre = n * rng.uniform(0.50, 0.62)
    amp = n * (0.14 + 0.06 * (d.arousal + 1))
    tilt = rng.uniform(-0.08, 0.08) * n
    echoes = 5 + int(3 * (d.arousal + 1))
    for k in range(echoes):
        shift = (k - echoes / 2) * n * 0.012
        ys = centre + shift - (y - 0.5) * amp * (1 - 0.06 * k) + tilt * (x / n - 0.5)
        pts = list(zip(x.tolist(), ys.tolist(), strict=True))
        colour = d.palette.highlight if k == echoes // 2 else d.palette.primary
        alpha = 0.95 if k == echoes // 2 else 0.22 + 0.05 * (k % 3)
        draw.line(pts, fill=_rgba(colour, alpha),
                  width=max(4, int(n / (90 if k == echoes // 2 else 260))), joint="curve")


def _fit_font(font_path: Path, text: str, max_width: float, start: int, draw: Any) -> Any:
    from PIL import ImageFont

    size = start
    while size > 20:
        font = ImageFont.truetype(str(font_path), size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size = int(size * 0.92)
    return ImageFont.truetype(str(font_path), size)


def _wrap(text: str, limit: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > limit:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines[:3] or [""]


def _draw_text(image: Any, *, title: str, artist: str, palette: Palette) -> None:
    from PIL import ImageDraw

    n = image.size[0]
    draw = ImageDraw.Draw(image)
    bold, regular = find_font(True), find_font(False)
    margin = n * 0.07
    lines = _wrap(title, 18)
    size = int(n * (0.11 if len(lines) == 1 else 0.085))
    fonts = [_fit_font(bold, ln, n - 2 * margin, size, draw) for ln in lines]
    font_size = min(f.size for f in fonts)
    from PIL import ImageFont

    title_font = ImageFont.truetype(str(bold), font_size)
    artist_font = _fit_font(regular, artist, n - 2 * margin, int(n * 0.045), draw)
    line_h = font_size * 1.08
    y = n - margin - artist_font.size * 1.4 - line_h * len(lines)
    shadow = (0, 0, 0, 140)
    for ln in lines:
        draw.text((margin + n * 0.004, y + n * 0.004), ln, font=title_font, fill=shadow)
        draw.text((margin, y), ln, font=title_font, fill=palette.text)
        y += line_h
    draw.text((margin, y + artist_font.size * 0.25), artist, font=artist_font,
              fill=palette.highlight)


def cover_jpeg(design: CoverDesign, *, title: str, artist: str,
               size_px: int = COVER_SIZE_PX) -> bytes:
    image = render_cover(design, title=title, artist=artist, size_px=size_px)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True, subsampling=0)
    return buf.getvalue()
