"""How well do we understand a text prompt? Our SongBrief vs a keyword-only baseline on MusicCaps.

Each MusicCaps row has a musician's caption (the prompt) and an aspect list written by the same
musician (the reference). For rows whose aspects name a genre we have a style for, a tempo word,
a mood with a clear valence sign, or an instrument we can play, both systems read the caption and
we score, side by side, in the same run:
- genre accuracy: the style chosen is one the aspect's genre maps to (e.g. "jazz" -> any jazz-*);
- tempo class accuracy: slow / medium / fast from the brief's BPM (slow < 90 <= medium < 124 <= fast)
  against "slow tempo" / "medium tempo" / "fast tempo" (and synonyms) in the aspects;
- instrument precision and recall (micro-averaged) over the instrument families we play;
- mood valence sign: positive vs negative mood aspects ("happy", "sad", "aggressive", ...).

The keyword baseline reads the same caption with word lists only: the first genre word found
(else pop), tempo words (else medium), instrument words (no negation handling), and the count
of positive vs negative mood words (ties positive).

The rows are split once by a hash of their ytid: 80 % dev (the reader's few numbers were chosen
looking at dev only), 20 % held out (reported separately, never tuned on).

Also checked (`--jazz`): jazz progressions. Songs created from jazz prompts (compose + arrange,
no audio) vs the chord statistics of ../shared/data/jazz-standards (1,382 iReal Pro standards):
share of seventh (or richer) chords and share of chord changes that are ii-V motions.

    python bench/brief.py [DATA_DIR] [--limit N] [--split dev|heldout|both] [--jazz]
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.arrange import style_names
from tunesmith.brief import BriefError, BriefReader, tempo_class
from tunesmith.brief.lexicon import INSTRUMENTS, MOOD_ANCHORS, TEMPO_WORDS
from tunesmith.brief.styles import STYLE_WORDS

HELDOUT_SHARE = 5  # 1 row in 5 (by ytid hash) is held out

# ---------------------------------------------------------------- reference labels from aspects

# Aspect genre words -> the styles that count as right (filtered to the styles installed).
GENRE_TRUTH: dict[str, set[str]] = {
    "rock": {"rock", "grunge", "punk", "metal"}, "hard rock": {"rock", "metal", "grunge"},
    "classic rock": {"rock"}, "alternative rock": {"rock", "grunge"}, "indie rock": {"rock"},
    "soft rock": {"rock", "pop", "pop-ballad"}, "rock and roll": {"rock"},
    "metal": {"metal"}, "heavy metal": {"metal"}, "punk": {"punk"}, "punk rock": {"punk"},
    "grunge": {"grunge"}, "pop": {"pop", "pop-ballad", "synthwave"},
    "pop music": {"pop", "pop-ballad"}, "dance pop": {"pop", "edm-house"},
    "ballad": {"pop-ballad", "jazz-ballad", "soul-rnb"},
    "jazz": {"jazz-swing", "jazz-ballad", "bossa-nova"}, "swing": {"jazz-swing"},
    "bossa nova": {"bossa-nova"}, "latin": {"bossa-nova"}, "samba": {"bossa-nova"},
    "funk": {"funk"}, "disco": {"funk", "edm-house"}, "soul": {"soul-rnb", "gospel"},
    "r&b": {"soul-rnb"}, "rnb": {"soul-rnb"}, "gospel": {"gospel"},
    "reggae": {"reggae"}, "ska": {"reggae"}, "dub": {"reggae"},
    "country": {"country", "folk"}, "bluegrass": {"country", "folk"}, "folk": {"folk", "country"},
    "lofi": {"lofi-hip-hop"}, "lo-fi hip hop": {"lofi-hip-hop"}, "chillhop": {"lofi-hip-hop"},
    "hip hop": {"hip-hop-trap", "lofi-hip-hop"}, "hip-hop": {"hip-hop-trap", "lofi-hip-hop"},
    "rap": {"hip-hop-trap", "lofi-hip-hop"}, "trap": {"hip-hop-trap"},
    "edm": {"edm-house"}, "house": {"edm-house"}, "techno": {"edm-house"},
    "trance": {"edm-house"}, "electronic dance music": {"edm-house"},
    "dance music": {"edm-house", "pop"}, "synthwave": {"synthwave"}, "synth pop": {"synthwave", "pop"},
    "synthpop": {"synthwave", "pop"}, "new wave": {"synthwave"},
    "orchestral": {"cinematic-orchestral", "string-quartet"},
    "cinematic": {"cinematic-orchestral"}, "movie soundtrack": {"cinematic-orchestral"},
    "film score": {"cinematic-orchestral"}, "soundtrack": {"cinematic-orchestral"},
    "classical": {"string-quartet", "cinematic-orchestral"},
    "classical music": {"string-quartet", "cinematic-orchestral"},
    "string quartet": {"string-quartet"}, "chamber music": {"string-quartet"},
    "waltz": {"waltz"},
}
TEMPO_TRUTH = {
    "slow": "slow", "slow tempo": "slow", "slow-paced": "slow", "slow paced": "slow",
    "very slow tempo": "slow", "slow song": "slow",
    "medium tempo": "medium", "moderate tempo": "medium", "mid-tempo": "medium",
    "medium-paced": "medium", "medium paced": "medium", "moderate": "medium",
    "fast": "fast", "fast tempo": "fast", "fast-paced": "fast", "fast paced": "fast",
    "uptempo": "fast", "up-tempo": "fast", "up tempo": "fast", "quick tempo": "fast",
    "very fast tempo": "fast", "fast song": "fast",
}
POSITIVE = {"happy", "joyful", "cheerful", "uplifting", "fun", "playful", "romantic", "hopeful",
            "bright", "positive", "feel good", "feel-good", "joy", "celebratory", "optimistic",
            "love", "sweet", "cheery", "jolly", "euphoric", "inspiring", "lighthearted"}
NEGATIVE = {"sad", "melancholic", "melancholy", "dark", "aggressive", "angry", "scary", "sinister",
            "eerie", "haunting", "depressing", "sorrowful", "mournful", "tense", "suspenseful",
            "ominous", "gloomy", "creepy", "horror", "somber", "sombre", "grief", "heartbroken",
            "menacing", "spooky", "lonely", "tragic"}
# Instrument families scored (what we can put in an arrangement), and how aspect text names them.
FAMILIES = ("piano", "guitar", "bass", "drums", "strings", "brass", "saxophone", "flute",
            "organ", "synth", "harp", "accordion", "harmonica", "banjo", "choir")
_FAMILY_OF = {"piano": "piano", "electric piano": "piano", "acoustic guitar": "guitar",
              "electric guitar": "guitar", "guitar": "guitar", "bass": "bass", "drums": "drums",
              "strings": "strings", "violin": "strings", "cello": "strings", "trumpet": "brass",
              "trombone": "brass", "brass": "brass", "saxophone": "saxophone", "flute": "flute",
              "organ": "organ", "synth": "synth", "synth pad": "synth", "harp": "harp",
              "accordion": "accordion", "harmonica": "harmonica", "banjo": "banjo", "choir": "choir"}
_ASPECT_INSTRUMENTS = [
    ("piano", r"piano|keyboard|rhodes|keys\b"), ("guitar", r"guitar"),
    ("bass", r"\bbass(?!\s*drum)(?!oon)|bassline|808"),
    ("drums", r"drum|percussion|beat\b|cymbal|hi-?hat|snare|kick"),
    ("strings", r"string|violin|cello|viola|fiddle|orchestra"),
    ("brass", r"brass|trumpet|trombone|horn|tuba"), ("saxophone", r"\bsax"),
    ("flute", r"flute|recorder|piccolo"), ("organ", r"organ"), ("synth", r"synth"),
    ("harp", r"\bharp\b"), ("accordion", r"accordion"), ("harmonica", r"harmonica"),
    ("banjo", r"banjo"), ("choir", r"choir|choral")]


@dataclass
class Row:
    ytid: str
    caption: str
    genres: set[str] = field(default_factory=set)  # acceptable styles
    tempo: str | None = None
    instruments: set[str] = field(default_factory=set)
    valence: int = 0  # +1, -1, 0 unknown

    @property
    def heldout(self) -> bool:
        return int(hashlib.md5(self.ytid.encode()).hexdigest(), 16) % HELDOUT_SHARE == 0

    @property
    def scored(self) -> bool:
        return bool(self.genres or self.tempo or self.instruments or self.valence)


def _aspects(text: str) -> list[str]:
    try:
        return [str(a).strip().lower() for a in ast.literal_eval(text)]
    except (ValueError, SyntaxError):
        return []


def load_rows(path: Path, styles: set[str]) -> list[Row]:
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            aspects = _aspects(r["aspect_list"])
            row = Row(r["ytid"], r["caption"].strip())
            for a in aspects:
                for term, ok in GENRE_TRUTH.items():
                    if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", a):
                        row.genres |= ok & styles
            tempos = {TEMPO_TRUTH[a] for a in aspects if a in TEMPO_TRUTH}
            row.tempo = tempos.pop() if len(tempos) == 1 else None
            for a in aspects:
                if re.search(r"\bno\b|without", a):
                    continue
                for fam, rx in _ASPECT_INSTRUMENTS:
                    if re.search(rx, a):
                        row.instruments.add(fam)
            pos = any(w in a.split() or w == a for a in aspects for w in POSITIVE)
            neg = any(w in a.split() or w == a for a in aspects for w in NEGATIVE)
            row.valence = 1 if pos and not neg else -1 if neg and not pos else 0
            if row.caption and row.scored:
                rows.append(row)
    return rows


# ---------------------------------------------------------------- the two systems

@dataclass
class Guess:
    style: str
    tempo: str
    instruments: set[str]
    valence: int


def _families(names: list[str] | tuple[str, ...]) -> set[str]:
    return {_FAMILY_OF[n] for n in names if n in _FAMILY_OF}


class KeywordBaseline:
    """Word lists only: no sentence encoder, no negation, no numbers."""

    def __init__(self, styles: list[str]) -> None:
        self.genre_words = [(w, s) for s in styles for w in STYLE_WORDS.get(s, _NoWords).genres]
        self.genre_words.sort(key=lambda x: -len(x[0]))
        self.inst_words = sorted(((w, i.name) for i in INSTRUMENTS for w in i.words),
                                 key=lambda x: -len(x[0]))
        self.pos = {w for a in MOOD_ANCHORS if a.valence > 0 for w in a.keywords}
        self.neg = {w for a in MOOD_ANCHORS if a.valence < 0 for w in a.keywords}
        self.default_style = "pop" if "pop" in styles else styles[0]

    @staticmethod
    def _find(word: str, text: str) -> int:
        m = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)
        return m.start() if m else -1

    def guess(self, caption: str) -> Guess:
        t = caption.lower()
        hits = [(self._find(w, t), s) for w, s in self.genre_words]
        hits = [h for h in hits if h[0] >= 0]
        style = min(hits)[1] if hits else self.default_style
        tempo_hits = [(self._find(w, t), f) for w, f in TEMPO_WORDS.items()]
        tempo_hits = [h for h in tempo_hits if h[0] >= 0]
        feel = min(tempo_hits)[1] if tempo_hits else 0.5
        tempo = "slow" if feel < 0.35 else "fast" if feel > 0.65 else "medium"
        insts = [n for w, n in self.inst_words if self._find(w, t) >= 0]
        words = re.findall(r"[\w-]+", t)
        score = sum(w in self.pos for w in words) - sum(w in self.neg for w in words)
        return Guess(style, tempo, _families(insts), 1 if score >= 0 else -1)


class _NoWords:
    genres: tuple[str, ...] = ()


def ours(reader: BriefReader, caption: str) -> Guess | None:
    try:
        b = reader.understand(caption)
    except BriefError:
        return None
    return Guess(b.style.name, tempo_class(b.tempo_bpm), _families(b.instruments_wanted),
                 1 if b.mood.valence >= 0 else -1)


# ---------------------------------------------------------------- scoring

@dataclass
class Tally:
    genre: list[int] = field(default_factory=list)
    tempo: list[int] = field(default_factory=list)
    valence: list[int] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    failed: int = 0

    def add(self, row: Row, g: Guess | None) -> None:
        if g is None:
            self.failed += 1
            g = Guess("", "", set(), 0)
        if row.genres:
            self.genre.append(int(g.style in row.genres))
        if row.tempo:
            self.tempo.append(int(g.tempo == row.tempo))
        if row.valence:
            self.valence.append(int(g.valence == row.valence))
        if row.instruments:
            self.tp += len(g.instruments & row.instruments)
            self.fp += len(g.instruments - row.instruments)
            self.fn += len(row.instruments - g.instruments)

    def figures(self) -> dict[str, float]:
        def mean(x: list[int]) -> float:
            return sum(x) / len(x) if x else float("nan")
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        return {"genre accuracy": mean(self.genre), "tempo class accuracy": mean(self.tempo),
                "instrument precision": p, "instrument recall": r,
                "valence sign accuracy": mean(self.valence)}

    def counts(self) -> dict[str, int]:
        return {"genre accuracy": len(self.genre), "tempo class accuracy": len(self.tempo),
                "instrument precision": self.tp + self.fp, "instrument recall": self.tp + self.fn,
                "valence sign accuracy": len(self.valence)}


def table(title: str, a: Tally, b: Tally) -> str:
    fa, fb, n = a.figures(), b.figures(), a.counts()
    lines = [f"{title}", "", "| metric | rows/items | tunesmith brief | keyword baseline | ratio |",
             "|---|---|---|---|---|"]
    for k in fa:
        ratio = fa[k] / fb[k] if fb[k] else float("nan")
        lines.append(f"| {k} | {n[k]} | {fa[k]:.3f} | {fb[k]:.3f} | {ratio:.2f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- jazz progressions

_JAZZ_PROMPTS = ("a swinging jazz tune for a smoky club", "late night jazz ballad, muted trumpet",
                 "upbeat bebop with a walking bass", "a mellow jazz trio in a hotel bar",
                 "sad jazz ballad in a minor key", "happy medium swing for dancing")
_SEVENTH_QUALITIES = {"7", "maj7", "min7", "m7b5", "dim7", "6", "min6", "9"}


def _standards_stats(path: Path) -> tuple[float, float, int]:
    """(share of chords with a seventh or more, share of chord changes that are ii-V, n chords)."""
    songs = json.loads(path.read_text(encoding="utf-8"))
    chords: list[list[tuple[int, str]]] = []
    for song in songs:
        seq = []
        for sec in song.get("Sections", []):
            segs = [sec.get("MainSegment", {})] + list(sec.get("Endings", []))
            for seg in segs:
                for sym in re.split(r"[|,\s]+", seg.get("Chords", "")):
                    parsed = _parse_ireal(sym)
                    if parsed:
                        seq.append(parsed)
        chords.append(seq)
    n = sum(len(s) for s in chords)
    sevenths = sum(1 for s in chords for _, q in s if q in ("dom", "maj7", "min7", "hdim", "dim7", "six"))
    changes = iiv = 0
    for s in chords:
        for (r1, q1), (r2, q2) in zip(s, s[1:], strict=False):
            if (r1, q1) == (r2, q2):
                continue
            changes += 1
            iiv += int(q1 in ("min7", "min", "hdim") and q2 == "dom" and (r2 - r1) % 12 == 5)
    return sevenths / max(n, 1), iiv / max(changes, 1), n


_IREAL_ROOT = re.compile(r"^([A-G])([#b]?)")


def _parse_ireal(sym: str) -> tuple[int, str] | None:
    """Root and chord family of a chord as the file writes it (Dm7, Cmaj7, F#7#9, F07, Gm6,
    Bb^7, C-7, Fm/maj7, Ebo7, Asus)."""
    sym = sym.strip()
    m = _IREAL_ROOT.match(sym)
    if not m:
        return None
    root = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)]
    root = (root + {"#": 1, "b": -1}.get(m.group(2), 0)) % 12
    rest = sym[m.end():].split("/")[0] if not sym[m.end():].startswith(("m/", "-/")) \
        else sym[m.end():]
    if rest.startswith(("h", "ø", "07", "0", "m7b5", "-7b5")):
        return root, "hdim"
    if rest.startswith(("o7", "dim7")):
        return root, "dim7"
    if rest.startswith(("o", "dim")):
        return root, "dim"
    if rest.startswith(("maj", "^", "M7", "Δ")):
        return root, "maj7" if any(ch.isdigit() for ch in rest) or rest.startswith("^") \
            else "maj"
    if rest.startswith(("m", "-")):
        tail = rest[1:]
        if tail.startswith("6"):
            return root, "six"
        if tail[:1] in ("7", "9", "1") or "maj7" in tail:
            return root, "min7"
        return root, "min"
    if rest[:1] in ("7", "9", "1") or rest.startswith(("alt", "7sus", "sus7")):
        return root, "dom"
    if rest.startswith("6"):
        return root, "six"
    return root, "maj"


def _our_jazz_stats(reader: BriefReader, seeds: int) -> tuple[float, float, int, list[str]]:
    from tunesmith.arrange import arrange
    from tunesmith.brief.song import lead_sheet_from_brief

    sevenths = n = changes = iiv = 0
    examples = []
    for prompt in _JAZZ_PROMPTS:
        b = reader.understand(prompt)
        for seed in range(seeds):
            plan = lead_sheet_from_brief(b, length_s=60.0, seed=seed)
            score = arrange(plan.lead, plan.style, seed=seed)
            seq = [c.chord for c in score.chords]
            examples.append(f"{prompt} -> {b.style.name}: "
                            + " ".join(c.symbol() for c in seq[:8]))
            n += len(seq)
            sevenths += sum(1 for c in seq if c.quality in _SEVENTH_QUALITIES)
            for c1, c2 in zip(seq, seq[1:], strict=False):
                if c1 == c2:
                    continue
                changes += 1
                iiv += int(c1.quality in ("min7", "min", "m7b5") and c2.quality in ("7", "9")
                           and (c2.root - c1.root) % 12 == 5)
    return sevenths / max(n, 1), iiv / max(changes, 1), n, examples


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", type=Path,
                    default=Path(os.environ.get("TUNESMITH_DATA", "../shared/data")))
    ap.add_argument("--limit", type=int, default=0, help="rows per split (0 = all)")
    ap.add_argument("--split", choices=("dev", "heldout", "both"), default="both")
    ap.add_argument("--jazz", action="store_true", help="also check jazz progressions")
    ap.add_argument("--jazz-seeds", type=int, default=2)
    args = ap.parse_args()
    csv_path = args.data / "musiccaps" / "musiccaps-dev.csv"
    if not csv_path.is_file():
        raise SystemExit(f"MusicCaps not found at {csv_path} (set TUNESMITH_DATA)")
    styles = style_names()
    rows = load_rows(csv_path, set(styles))
    t0 = time.perf_counter()
    reader = BriefReader()
    baseline = KeywordBaseline(styles)
    print(f"{len(rows)} scorable rows of {csv_path.name}; reader ready in "
          f"{time.perf_counter() - t0:.1f} s; {len(styles)} styles")
    splits = {"dev": [r for r in rows if not r.heldout], "heldout": [r for r in rows if r.heldout]}
    wanted = ("dev", "heldout") if args.split == "both" else (args.split,)
    out = []
    for name in wanted:
        part = splits[name][: args.limit] if args.limit else splits[name]
        ta, tb = Tally(), Tally()
        t0 = time.perf_counter()
        confusions: Counter[tuple[str, str]] = Counter()
        for row in part:
            g = ours(reader, row.caption)
            ta.add(row, g)
            tb.add(row, baseline.guess(row.caption))
            if g is not None and row.genres and g.style not in row.genres:
                confusions[(sorted(row.genres)[0], g.style)] += 1
        dt = time.perf_counter() - t0
        title = (f"### MusicCaps {name} ({len(part)} rows; ours {1000 * dt / max(len(part), 1):.0f} "
                 f"ms/row incl. baseline; {ta.failed} rows our reader refused)")
        out.append(table(title, ta, tb))
        print(out[-1])
        print("most common genre confusions (reference -> ours):",
              ", ".join(f"{a}->{b} {n}" for (a, b), n in confusions.most_common(6)))
        print()
    if args.jazz:
        js = args.data / "jazz-standards" / "JazzStandards.json"
        s7, iiv, n = _standards_stats(js)
        o7, oiiv, on, examples = _our_jazz_stats(reader, args.jazz_seeds)
        lines = ["### Jazz progressions: songs from jazz prompts vs jazz-standards", "",
                 "| statistic | tunesmith (jazz prompts) | jazz standards | ratio |",
                 "|---|---|---|---|",
                 f"| chords with a seventh or richer | {o7:.3f} ({on} chords) | {s7:.3f} ({n} chords) | {o7 / s7:.2f} |",
                 f"| chord changes that are ii-V | {oiiv:.3f} | {iiv:.3f} | {oiiv / iiv if iiv else float('nan'):.2f} |"]
        print("\n".join(lines))
        for e in examples[:6]:
            print("  ", e)


if __name__ == "__main__":
    main()
