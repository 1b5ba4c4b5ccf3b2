"""Lyrics under the melody: split words into sung syllables and give each note one.

A lyrics file is plain text. Blank lines separate stanzas; a stanza may start with a label
line such as `[Verse]`, `[Chorus]` or `Bridge:`. Labelled stanzas go to the sections of that
kind (the n-th verse stanza to the n-th verse; a single chorus stanza to every chorus).
Unlabelled stanzas are sung in order, each starting at the next section that has melody.
Hyphens the writer puts in a word (`mel-o-dy`) are kept as the syllable breaks; other words
are split by English spelling rules (vowel groups, a silent final e, consonant clusters that can
start a syllable). Where a section has more syllables than notes, or notes left without words,
a warning says which section and by how much.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.errors import TunesmithError
from tunesmith.score import Note, Section

_LABEL_RE = re.compile(r"^\s*\[?\s*(intro|verse|pre-?chorus|chorus|refrain|hook|bridge|outro|solo)"
                       r"(?:\s*\d+)?\s*\]?\s*:?\s*$", re.IGNORECASE)
_KIND = {"prechorus": "prechorus", "pre-chorus": "prechorus", "refrain": "chorus", "hook": "chorus"}
_VOWELS = set("aeiouy")
_ONSETS = {"bl", "br", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sc", "sk", "sl",
           "sm", "sn", "sp", "st", "sw", "tr", "tw", "th", "ch", "sh", "ph", "wh", "wr", "kn",
           "qu", "str", "spr", "scr", "thr", "shr", "squ", "spl"}
# Frequent lyric words the spelling rules get wrong (compounds, silent letters).
_IRREGULAR = {w.replace("-", ""): w for w in (
    "some-thing", "some-one", "some-bo-dy", "some-times", "some-where", "some-day",
    "ev-ery", "ev-ery-thing", "ev-ery-one", "ev-ery-bo-dy", "ev-ery-where", "ev-ery-day",
    "for-ev-er", "no-thing", "no-bo-dy", "a-ny-thing", "a-ny-one", "a-ny-more", "al-ways",
    "in-side", "out-side", "to-day", "to-mor-row", "a-lone", "a-way", "a-gain", "be-fore",
    "love-ly", "lone-ly", "home-town", "time-less", "life-time", "fire-fly", "sun-shine",
    "moon-light", "star-light", "heart-beat", "heart-break", "mid-night", "break-ing",
    "e-ven", "o-pen", "o-ver", "ne-ver", "ri-ver", "e-ver")}


class LyricsError(TunesmithError):
    """The lyrics file cannot be read."""


@dataclass(frozen=True, slots=True)
class Syllable:
    """One sung syllable; `syllabic` as MusicXML has it: single, begin, middle or end."""

    text: str
    syllabic: str = "single"


@dataclass(frozen=True, slots=True)
class Stanza:
    kind: str | None  # verse, chorus, ... when the stanza was labelled
    syllables: tuple[Syllable, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Alignment:
    """One entry per melody note (None: no word on that note), and what did not fit."""

    syllables: tuple[Syllable | None, ...]
    warnings: tuple[str, ...]
    sung: int  # syllables placed under notes
    total: int  # syllables in the lyrics


def syllabify(word: str) -> list[str]:
    """Split one word into sung syllables: 'melody' -> ['me', 'lo', 'dy']."""
    if "-" in word.strip("-"):
        return [p for p in word.split("-") if p]
    letters = word.lower()
    if letters in _IRREGULAR:
        return _cased(word, _IRREGULAR[letters].split("-"))
    nuclei = _nuclei(letters)
    if len(nuclei) <= 1:
        return [word]
    cuts = []
    for (_, end_a), (start_b, _) in zip(nuclei, nuclei[1:], strict=False):
        cluster = letters[end_a:start_b]
        if start_b == len(letters) - 1 and cluster.endswith("l") and len(cluster) >= 2:
            cuts.append(start_b - 2)  # "-Cle" is a syllable of its own: lit-tle, ta-ble
        else:
            cuts.append(end_a + _split_cluster(cluster))
    pieces, prev = [], 0
    for c in cuts:
        pieces.append(word[prev:c])
        prev = c
    pieces.append(word[prev:])
    return [p for p in pieces if p]


def _cased(word: str, parts: list[str]) -> list[str]:
    """Cut `word` (any case) where the lower-case `parts` join."""
    out, pos = [], 0
    for p in parts:
        out.append(word[pos:pos + len(p)])
        pos += len(p)
    return out


def _nuclei(letters: str) -> list[tuple[int, int]]:
    """(start, end) of each vowel group that is sung as a syllable."""
    groups: list[tuple[int, int]] = []
    i, n = 0, len(letters)
    while i < n:
        ch = letters[i]
        is_vowel = ch in _VOWELS and not (ch == "y" and i == 0)
        if is_vowel:
            j = i
            while j < n and letters[j] in _VOWELS and not (letters[j] == "y" and j > i
                                                            and j + 1 < n and letters[j + 1] in _VOWELS):
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    # a final silent e ("wake", "fire") is not a syllable; "-le" after a consonant is ("table")
    silent_e = len(groups) > 1 and groups[-1] == (n - 1, n) and letters[-1] == "e"
    if silent_e and not (n >= 3 and letters[-2] == "l" and letters[-3] not in _VOWELS):
        groups.pop()
    # "-es"/"-ed" endings after most consonants are silent too ("makes", "loved")
    if (len(groups) > 1 and n >= 3 and letters[-2:] in ("es", "ed") and groups[-1] == (n - 2, n - 1)
            and letters[-3] not in "tdsxzgch" and letters[-3] not in _VOWELS):
        groups.pop()
    return groups


def _split_cluster(cluster: str) -> int:
    """Where the consonants between two vowel groups split (offset into the cluster): the
    longest tail that can start a syllable goes to the next one ('a-cross', 'dan-cing')."""
    for k in range(len(cluster), 0, -1):
        if k == 1 or cluster[-k:] in _ONSETS:
            return len(cluster) - k
    return 0


def _word_syllables(word: str) -> list[Syllable]:
    parts = syllabify(word)
    if len(parts) == 1:
        return [Syllable(parts[0], "single")]
    return [Syllable(p, "begin" if i == 0 else "end" if i == len(parts) - 1 else "middle")
            for i, p in enumerate(parts)]


def parse_lyrics(text: str) -> list[Stanza]:
    stanzas: list[Stanza] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        kind = None
        if lines and (m := _LABEL_RE.match(lines[0])):
            label = m.group(1).lower()
            kind = _KIND.get(label, label)
            lines = lines[1:]
        words = [w for ln in lines for w in re.findall(r"[\w'’\-]+", ln)]
        syllables = tuple(s for w in words for s in _word_syllables(w))
        if syllables or kind:
            stanzas.append(Stanza(kind, syllables, "\n".join(lines)))
    return stanzas


def read_lyrics(path: str | object) -> list[Stanza]:
    from pathlib import Path

    p = Path(str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LyricsError(f"cannot read the lyrics file {p}: {exc}") from exc
    stanzas = parse_lyrics(text)
    if not any(s.syllables for s in stanzas):
        raise LyricsError(f"the lyrics file {p} has no words in it")
    return stanzas


def align(stanzas: Sequence[Stanza], notes: Sequence[Note],
          sections: Sequence[Section]) -> Alignment:
    """Give each melody note at most one syllable (see the module docstring)."""
    slots: list[Syllable | None] = [None] * len(notes)
    warnings: list[str] = []
    total = sum(len(s.syllables) for s in stanzas)
    vocal = [(s, [i for i, n in enumerate(notes) if s.start_beat - 1e-6 <= n.start_beat < s.end_beat - 1e-6])
             for s in sections]
    vocal = [(s, idx) for s, idx in vocal if idx]
    if not vocal:  # no sections: the whole melody is one
        vocal = [(Section("song", "the song", 0.0, float("inf")), list(range(len(notes))))]
    sung = 0
    if any(st.kind for st in stanzas):
        by_kind: dict[str, list[Stanza]] = {}
        for st in stanzas:
            if st.kind:
                by_kind.setdefault(st.kind, []).append(st)
        seen: dict[str, int] = {}
        for sec, idx in vocal:
            options = by_kind.get(sec.kind, [])
            k = seen.get(sec.kind, 0)
            seen[sec.kind] = k + 1
            if not options:
                continue
            stanza = options[min(k, len(options) - 1)]
            sung += _fill(slots, idx, list(stanza.syllables), sec.label, warnings)
        unused = [st for st in stanzas if st.kind and st.kind not in {s.kind for s, _ in vocal}]
        for st in unused:
            warnings.append(f"the song has no {st.kind} with melody: the [{st.kind}] lyrics are "
                            "not under any notes")
        unlabelled = [st for st in stanzas if not st.kind and st.syllables]
        if unlabelled:
            warnings.append(f"{len(unlabelled)} stanza(s) without a [Verse]/[Chorus] label were "
                            "left out because other stanzas are labelled")
    else:
        queue = [st for st in stanzas if st.syllables]
        for sec, idx in vocal:
            if not queue:
                break
            stanza = queue.pop(0)
            sung += _fill(slots, idx, list(stanza.syllables), sec.label, warnings)
        if queue:
            left = sum(len(st.syllables) for st in queue)
            warnings.append(f"{len(queue)} stanza(s) ({left} syllables) are left over: the song "
                            f"has {len(vocal)} sections with melody")
    return Alignment(tuple(slots), tuple(warnings), sung, total)


def _fill(slots: list[Syllable | None], idx: list[int], syllables: list[Syllable], label: str,
          warnings: list[str]) -> int:
    n = min(len(idx), len(syllables))
    for i in range(n):
        slots[idx[i]] = syllables[i]
    if len(syllables) > len(idx):
        extra = syllables[len(idx):]
        preview = " ".join(s.text for s in extra[:6]) + (" ..." if len(extra) > 6 else "")
        warnings.append(f"{label}: {len(syllables)} syllables for {len(idx)} notes; the last "
                        f"{len(extra)} do not fit ('{preview}')")
    elif len(syllables) < len(idx):
        warnings.append(f"{label}: {len(syllables)} syllables for {len(idx)} notes; "
                        f"{len(idx) - len(syllables)} notes at the end have no words")
    return n
