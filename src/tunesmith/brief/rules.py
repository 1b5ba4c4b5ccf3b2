"""Explicit rules: what a prompt says outright. Numbers (92 bpm, 3:30, 6/8), keys ("in D minor"),
instruments wanted and unwanted ("no drums", "solo piano"), tempo, mood and density words,
genre names and structure hints. Each finding keeps the span of text it came from, so the
brief can report the words nothing used."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tunesmith.brief.lexicon import (
    DENSITY_WORDS,
    INSTRUMENTS,
    LESS_WORDS,
    MOOD_ANCHORS,
    NEGATIONS,
    SOLO_PATTERNS,
    STRUCTURE_HINTS,
    TEMPO_WORDS,
)
from tunesmith.theory import Key

Span = tuple[int, int]

MIN_BPM, MAX_BPM = 30.0, 300.0
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "a": 1, "an": 1, "half a": 0.5}
_CLAUSE_BREAK = re.compile(r"[,.;:!?()]|\b(?:but|with|and just|and only|plus|then)\b")
_NEGATION_RE = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in sorted(NEGATIONS, key=len, reverse=True)) + r")\b")
NEGATION_REACH_WORDS = 5  # "no drums or heavy bass": the negation reaches a few words on


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the prompt says, with where it says it."""

    kind: str  # tempo, key, mode, meter, length, instrument, solo, lead, mood, density, genre,
    # structure
    value: str
    span: Span
    negated: bool = False
    number: float = 0.0


@dataclass(slots=True)
class Explicit:
    """Everything the rules found."""

    findings: list[Finding] = field(default_factory=list)
    tempo_bpm: float | None = None
    key: Key | None = None
    mode: str | None = None  # "minor"/"major" asked for without a tonic ("in a minor key")
    beats_per_bar: int | None = None
    compound: bool = False
    length_s: float | None = None

    def of(self, kind: str, *, negated: bool | None = None) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind
                and (negated is None or f.negated == negated)]

    @property
    def spans(self) -> list[Span]:
        return [f.span for f in self.findings]

    def positive_text(self, text: str) -> str:
        """`text` without what it negates ("no drums", "not metal"), for the encoder."""
        cut = sorted(f.span for f in self.findings if f.negated)
        out, at = [], 0
        for a, b in cut:
            if a >= at:
                out.append(text[at:a])
                at = b
        out.append(text[at:])
        return " ".join("".join(out).split())

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)


def _phrase_re(phrases: list[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])")


def _free(span: Span, taken: list[Span]) -> bool:
    return all(span[1] <= a or span[0] >= b for a, b in taken)


def _negated(text: str, start: int) -> bool:
    """Is the word at `start` negated by a "no"/"without" earlier in its clause?"""
    return negation_start(text, start) is not None


def negation_start(text: str, start: int) -> int | None:
    """Where the "no"/"without" that negates the word at `start` begins (None: not negated)."""
    clause_start = 0
    for m in _CLAUSE_BREAK.finditer(text, 0, start):
        clause_start = m.end()
    before = text[clause_start:start]
    last = None
    for m in _NEGATION_RE.finditer(before):
        last = m
    if last is None:
        return None
    between = before[last.end():]
    if len(between.split()) > NEGATION_REACH_WORDS:
        return None
    # "no more than", "not only": not a negation of what follows.
    if re.match(r"\s*(?:more than|only|just|too much)\b", between) and last.group(0) != "no more":
        return None
    return clause_start + last.start()


# ---------------------------------------------------------------- numbers

_BPM_RE = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*(?:-\s*)?(?:bpm|b\.p\.m\.?|beats? (?:per|a) minute)\b")
_BPM_AFTER_RE = re.compile(r"\b(?:tempo|bpm)\s*(?:of|at|=|:|is|around|about)?\s*(\d{2,3}(?:\.\d+)?)\b(?!\s*(?:/|:|minutes?|mins?|seconds?|secs?))")
_METER_RE = re.compile(r"(?<![\d/])(2|3|4|5|6|7|9|12)\s*/\s*(4|8)(?![\d/])")
_CLOCK_RE = re.compile(r"(?<![\d:])(\d{1,2}):([0-5]\d)(?![\d:])")
_MINUTES_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:-\s*)?(minutes?|mins?|m)\b(?!\s*long intro)")
_SECONDS_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:-\s*)?(seconds?|secs?|s)\b")
_WORD_MINUTES_RE = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|half a|a|an)"
                              r"(?: and a half)?[\s-]+minutes?\b(?: and a half)?")
_SHORT_RE = re.compile(r"\b(?:short|brief|quick little|tiny)\s+(?:song|track|piece|tune|loop|one|jingle|sketch)\b|\bjingle\b")
_LONG_RE = re.compile(r"\b(?:long|lengthy|extended|epic-length)\s+(?:song|track|piece|tune|jam|one)\b")
SHORT_SONG_S = 60.0
JINGLE_S = 30.0
LONG_SONG_S = 300.0


def _numbers(text: str, out: Explicit) -> None:
    for m in _BPM_RE.finditer(text):
        out.tempo_bpm = float(m.group(1))
        out.add(Finding("tempo", f"{float(m.group(1)):g} bpm", m.span(), number=float(m.group(1))))
    if out.tempo_bpm is None:
        for m in _BPM_AFTER_RE.finditer(text):
            out.tempo_bpm = float(m.group(1))
            out.add(Finding("tempo", f"{float(m.group(1)):g} bpm", m.span(), number=out.tempo_bpm))
    for m in _METER_RE.finditer(text):
        num, den = int(m.group(1)), int(m.group(2))
        if den == 8 and num in (6, 12):
            out.beats_per_bar, out.compound = num // 2, True
        elif den == 4 and num in (2, 3, 4, 6):
            out.beats_per_bar, out.compound = num, False
        else:
            out.add(Finding("meter-unsupported", f"{num}/{den}", m.span()))
            continue
        out.add(Finding("meter", f"{num}/{den}", m.span()))
    m3 = re.search(r"\b(?:in three|three[- ]four time|waltz time|triple (?:meter|time))\b", text)
    if m3 is not None and out.beats_per_bar is None:
        out.beats_per_bar = 3
        out.add(Finding("meter", "3/4", m3.span()))
    taken = out.spans
    for m in _CLOCK_RE.finditer(text):
        if _free(m.span(), taken):
            out.length_s = int(m.group(1)) * 60 + int(m.group(2))
            out.add(Finding("length", f"{m.group(1)}:{m.group(2)}", m.span(), number=out.length_s))
    for m in _MINUTES_RE.finditer(text):
        if out.length_s is None and _free(m.span(), taken):
            out.length_s = float(m.group(1)) * 60
            out.add(Finding("length", m.group(0), m.span(), number=out.length_s))
    for m in _SECONDS_RE.finditer(text):
        if out.length_s is None and _free(m.span(), taken):
            out.length_s = float(m.group(1))
            out.add(Finding("length", m.group(0), m.span(), number=out.length_s))
    for m in _WORD_MINUTES_RE.finditer(text):
        if out.length_s is None:
            base = _NUMBER_WORDS[m.group(1)]
            out.length_s = 60.0 * (base + (0.5 if "and a half" in m.group(0) else 0.0))
            out.add(Finding("length", m.group(0), m.span(), number=out.length_s))
    if out.length_s is None:
        m = _SHORT_RE.search(text)
        if m:
            out.length_s = JINGLE_S if "jingle" in m.group(0) else SHORT_SONG_S
            out.add(Finding("length", m.group(0), m.span(), number=out.length_s))
        m = _LONG_RE.search(text)
        if m and out.length_s is None:
            out.length_s = LONG_SONG_S
            out.add(Finding("length", m.group(0), m.span(), number=out.length_s))


# ---------------------------------------------------------------- keys

_KEY_RE = re.compile(
    r"\b(?:in(?: the key of)?|key(?: of)?:?|key signature of)\s+([A-Ga-g])(?:\s*(#|♯|b|♭|-sharp|-flat| sharp| flat)(?![a-z]))?"
    r"(?:[\s-]*(major|minor|maj|min|m)\b)?")
_BARE_KEY_RE = re.compile(r"(?<![\w/])([A-G])(#|♯|b|♭)?[\s-]?(major|minor)\b")
_MODE_RE = re.compile(r"\b(?:in\s+)?(?:a\s+)?(major|minor)(?:\s+key|\s+mode|\s+tonality)?\b")


def _keys(raw: str, out: Explicit) -> None:
    for m in list(_KEY_RE.finditer(raw)) + list(_BARE_KEY_RE.finditer(raw)):
        letter, acc, mode = m.group(1), (m.group(2) or "").strip(), (m.group(3) or "").lower()
        after = raw[m.end():m.end() + 6].lower()
        if letter.islower() and (not mode or letter == "a" and after.strip().startswith(("key", "mode", "scale", "tonality", "feel", "sound", "vibe", "chord"))):
            continue  # "in a minor key", "in a dream": the article, not the note A
        if mode == "m" and letter.islower():
            continue
        accidental = {"#": "#", "♯": "#", "-sharp": "#", "sharp": "#", "b": "b", "♭": "b",
                      "-flat": "b", "flat": "b"}.get(acc, "")
        minor = mode in ("minor", "min", "m")
        key = Key.parse(f"{letter.upper()}{accidental}{'m' if minor else ''}")
        out.key = key
        out.add(Finding("key", key.name, m.span()))
        return
    lowered = raw.lower()
    for m in _MODE_RE.finditer(lowered):
        # "minor" alone is a request for the mode ("something in a minor key", "major-key pop").
        out.mode = m.group(1)
        out.add(Finding("mode", m.group(1), m.span()))
        return


# ---------------------------------------------------------------- words

_INSTRUMENT_PHRASES = {w: inst.name for inst in INSTRUMENTS for w in inst.words}
_INSTRUMENT_PHRASES.update({"bass drum": "drums", "kick drum": "drums", "snare drum": "drums",
                            "drum and bass": "drums"})
_INSTRUMENT_RE = _phrase_re(list(_INSTRUMENT_PHRASES))
_INST_ALT = "|".join(re.escape(p) for p in sorted(_INSTRUMENT_PHRASES, key=len, reverse=True))
_SOLO_RES = [re.compile(p.format(inst=_INST_ALT)) for p in SOLO_PATTERNS]
_TEMPO_RE = _phrase_re(list(TEMPO_WORDS))
_DENSITY_RE = _phrase_re(list(DENSITY_WORDS))
_MOOD_WORDS = {w: a.word for a in MOOD_ANCHORS for w in a.keywords}
_MOOD_RE = _phrase_re(list(_MOOD_WORDS))
_STRUCTURE_PHRASES = {p: name for name, ps in STRUCTURE_HINTS.items() for p in ps}
_STRUCTURE_RE = _phrase_re(list(_STRUCTURE_PHRASES))
_LESS_RE = _phrase_re(list(LESS_WORDS))
_FEATURE_RE = re.compile(r"(?:[ -](?:pop|rock|jazz|folk|love|power|sad|slow))?[ -]"
                         r"(?:ballads?|songs?|tunes?|pieces?|instrumentals?|melody|melodies|"
                         r"numbers?|lullaby|lullabies)\b")
_NO_VOCALS_RE = re.compile(r"\b(?:instrumental|no vocals?|no singing|without vocals?|no voice|a cappella)\b")


def _instruments(text: str, out: Explicit) -> None:
    taken = out.spans
    mentions: list[tuple[str, Span, bool]] = []
    for m in _INSTRUMENT_RE.finditer(text):
        if _free(m.span(), taken):
            neg_at = negation_start(text, m.start())
            # A negated mention covers its "no"/"without" too: both leave the text the encoder
            # reads ("no drums" must not pull the prompt toward drum-heavy styles).
            span = (neg_at, m.end()) if neg_at is not None else m.span()
            mentions.append((_INSTRUMENT_PHRASES[m.group(0)], span, neg_at is not None))
    for m in _LESS_RE.finditer(text):
        mentions.append((LESS_WORDS[m.group(0)], m.span(), True))
    wanted_names = {name for name, _, neg in mentions if not neg}
    for rx in _SOLO_RES:
        for m in rx.finditer(text):
            name = _INSTRUMENT_PHRASES[m.group(1)]
            if name in ("drums", "bass", "voice"):
                continue
            # "with a guitar solo" over a band is a feature, not solo instrumentation.
            is_feature = re.search(r"\b(?:a|an|the|with)\s+$", text[:m.start()]) is not None \
                and m.group(0).endswith("solo")
            if is_feature or wanted_names - _family(name) - {"voice"}:
                continue
            out.add(Finding("solo", name, m.span()))
            break
    for name, span, neg in mentions:
        # "a piano ballad", "a guitar song": the instrument names the song, so it carries the
        # tune (it is not only wanted somewhere in the band)
        if not neg and _FEATURE_RE.match(text, span[1]) and name not in ("drums", "bass"):
            out.add(Finding("lead", name, span))
            break
    seen: set[tuple[str, bool]] = set()
    for name, span, neg in mentions:
        if (name, neg) in seen:
            out.add(Finding("instrument-repeat", name, span, negated=neg))
            continue
        seen.add((name, neg))
        out.add(Finding("instrument", name, span, negated=neg))
    m = _NO_VOCALS_RE.search(text)
    if m:
        out.add(Finding("instrument", "voice", m.span(), negated=True))


def _family(name: str) -> set[str]:
    """Instrument names that are the same instrument for solo purposes (guitar ~ acoustic guitar)."""
    if "guitar" in name:
        return {"guitar", "acoustic guitar", "electric guitar"}
    if "piano" in name:
        return {"piano", "electric piano"}
    return {name}


def _words(text: str, out: Explicit) -> None:
    taken = out.spans
    for m in _STRUCTURE_RE.finditer(text):
        if _free(m.span(), taken) and not _negated(text, m.start()):
            out.add(Finding("structure", _STRUCTURE_PHRASES[m.group(0)], m.span()))
    taken = out.spans
    for m in _TEMPO_RE.finditer(text):
        if _free(m.span(), taken):
            feel = TEMPO_WORDS[m.group(0)]
            neg = bool(re.search(r"\bnot(?: too| very| so| overly)?\s+$", text[:m.start()]))
            if neg:  # "not too fast": toward the middle
                feel = 0.5 - 0.2 * (1 if feel > 0.5 else -1)
            out.add(Finding("tempo-word", m.group(0), m.span(), negated=neg, number=feel))
    taken = out.spans
    for m in _DENSITY_RE.finditer(text):
        if _free(m.span(), taken):
            out.add(Finding("density", m.group(0), m.span(), number=DENSITY_WORDS[m.group(0)]))
    for m in _MOOD_RE.finditer(text):
        if _free(m.span(), taken):
            neg = bool(re.search(r"\b(?:not|never|no longer|isn't|less)(?: too| very| so| overly)?\s+$",
                                 text[:m.start()]))
            out.add(Finding("mood", _MOOD_WORDS[m.group(0)], m.span(), negated=neg))


def genre_findings(text: str, genres: dict[str, tuple[str, ...]],
                   hints: dict[str, tuple[str, ...]], out: Explicit) -> None:
    """Genre names ("bossa nova", "jazz"; number 1) and genre hints ("soundtrack", "church";
    number 0.5): a longer phrase wins over the phrases inside it."""
    phrases = {p: (s, 0.5) for s, ps in hints.items() for p in ps}
    phrases.update({p: (s, 1.0) for s, ps in genres.items() for p in ps})
    for m in _phrase_re(list(phrases)).finditer(text):
        style, strength = phrases[m.group(0)]
        neg_at = negation_start(text, m.start())
        if neg_at is None:
            out.add(Finding("genre", style, m.span(), number=strength))
        else:
            out.add(Finding("genre", style, (neg_at, m.end()), negated=True, number=strength))


_COMPOUND_RE = re.compile(r"[^\W\d_][\w'’]*(?:-[^\W\d_][\w'’]*)+")


def _split_compounds(text: str, genres: dict[str, tuple[str, ...]],
                     hints: dict[str, tuple[str, ...]]) -> str:
    """Hyphenated words no phrase list knows ("guitar-pop", "slow-burning") read as their
    parts; known ones ("hip-hop", "lo-fi", "laid-back") stay whole. Same length, so every
    finding's span still points into the prompt as typed."""
    known = [p for p in (*_INSTRUMENT_PHRASES, *TEMPO_WORDS, *DENSITY_WORDS, *_MOOD_WORDS,
                         *_STRUCTURE_PHRASES, *LESS_WORDS,
                         *(w for ws in genres.values() for w in ws),
                         *(w for ws in hints.values() for w in ws)) if "-" in p]

    def split(m: re.Match[str]) -> str:
        word = m.group(0)
        return word if any(k in word for k in known) else word.replace("-", " ")

    return _COMPOUND_RE.sub(split, text)


def read_explicit(raw: str, genres: dict[str, tuple[str, ...]],
                  hints: dict[str, tuple[str, ...]] | None = None) -> Explicit:
    """All explicit findings in `raw` (the prompt as typed)."""
    text = _split_compounds(raw.lower(), genres, hints or {})
    out = Explicit()
    _numbers(text, out)
    _keys(raw, out)
    genre_findings(text, genres, hints or {}, out)
    _instruments(text, out)
    _words(text, out)
    if out.tempo_bpm is not None and not MIN_BPM <= out.tempo_bpm <= MAX_BPM:
        out.add(Finding("tempo-out-of-range", f"{out.tempo_bpm:g}", (0, 0)))
        out.tempo_bpm = min(max(out.tempo_bpm, MIN_BPM), MAX_BPM)
    return out
