"""Understanding a prompt: the sentence encoder places it among anchor descriptions (styles,
moods on the valence/arousal plane, tempo feel, instruments) and explicit rules read what it says
outright (numbers, keys, negations, lengths). Rules win where they speak; the encoder decides
the rest."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.arrange import Style, load_style, style_names
from tunesmith.brief.encoder import SentenceEncoder
from tunesmith.brief.lexicon import (
    FOREIGN_WORDS,
    INSTRUMENT_BY_NAME,
    INSTRUMENTS,
    MOOD_ANCHORS,
    STOPWORDS,
    TEMPO_ANCHORS,
    TEMPO_WORDS,
)
from tunesmith.brief.model import BriefError, Mood, SongBrief, StyleChoice
from tunesmith.brief.rules import Explicit, Span, read_explicit
from tunesmith.brief.styles import prototype_texts, style_words
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Tuning:
    """The reader's few numbers (chosen on the MusicCaps dev part; see bench/brief.py)."""

    style_temperature: float = 0.04  # softmax temperature over style scores (confidence)
    genre_bonus: float = 0.25  # a genre named outright
    genre_hint_bonus: float = 0.06  # a word that only hints at a genre ("soundtrack", "church")
    first_genre_bonus: float = 0.1  # the first genre the prompt names
    genre_bonus_cap: int = 2
    tempo_fit_weight: float = 0.08  # per unit of log-tempo distance outside a style's range
    mood_temperature: float = 0.035
    mood_keyword_bonus: float = 0.12  # a mood word said outright
    mood_null_logit: float = 0.3  # "no particular mood": wins unless an anchor is this close
    mood_null_valence: float = 0.15
    style_mood_weight: float = 0.1  # per unit of distance between prompt and style moods
    instrument_fit_bonus: float = 0.04  # per wanted instrument the style plays
    tempo_temperature: float = 0.03
    tempo_word_weight: float = 0.9  # share of an explicit tempo word against the encoder's feel
    arousal_tempo_weight: float = 0.3  # share of arousal in the tempo feel when no word says it
    tempo_word_stretch: float = 1.15  # tempo words may leave the style's range by this factor
    style_tempo_share: float = 0.5  # no tempo words: weight of the style's default tempo
    minor_threshold: float = -0.05  # valence below this (plus the style's lean) -> minor
    instrument_similarity: float = 0.72  # a word this close to an instrument's name names it
    understood_similarity: float = 0.55  # a word this close to a known word is understood


# How far each style leans to minor keys (added to -valence).
MINOR_LEAN = {"metal": 0.35, "hip-hop-trap": 0.35, "grunge": 0.2, "synthwave": 0.15,
              "cinematic-orchestral": 0.1, "punk": 0.0, "lofi-hip-hop": 0.05, "gospel": -0.25,
              "country": -0.2, "pop": -0.1, "waltz": -0.05, "reggae": 0.0}
_AMBIGUOUS_INSTRUMENT_WORDS = frozenset(
    ["recorder", "keys", "keyboard", "beat", "beats", "pad", "pads", "bells", "kick", "electronic", "voice", "voices", "vocal", "vocals", "singing", "sung", "singer", "vocalist", "groove", "drum", "synth", "synths", "808", "b3", "uke", "vibes"])
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 56.0, 180.0  # the tempo feel 0..1 spans this (log scale)


def feel_to_bpm(feel: float) -> float:
    return MIN_TEMPO_BPM * (MAX_TEMPO_BPM / MIN_TEMPO_BPM) ** float(np.clip(feel, 0.0, 1.0))


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = (x - x.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


_WORD_RE = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


def _script_of(ch: str) -> str:
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return "UNKNOWN"


_SCRIPT_NAMES = {"CJK": "Chinese or Japanese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese",
                 "HANGUL": "Korean", "CYRILLIC": "Cyrillic", "ARABIC": "Arabic",
                 "HEBREW": "Hebrew", "GREEK": "Greek", "DEVANAGARI": "Devanagari", "THAI": "Thai"}
_EXAMPLE = "e.g. \"a slow, sad piano ballad in D minor\" or \"upbeat funk with horns, 110 bpm\""


def check_prompt(prompt: str) -> str:
    """The prompt stripped, or a BriefError a musician can act on."""
    text = " ".join(prompt.split())
    if not text:
        raise BriefError(f"the prompt is empty: describe the song you want, {_EXAMPLE}")
    if len(text) > MAX_PROMPT_CHARS:
        raise BriefError(f"the prompt is {len(text)} characters long; keep it under "
                         f"{MAX_PROMPT_CHARS} (a few sentences about style, mood and tempo)")
    letters = [c for c in text if c.isalpha()]
    if not letters:
        raise BriefError(f"the prompt has no words in it: describe the song, {_EXAMPLE}")
    non_latin = [c for c in letters if _script_of(c) != "LATIN"]
    if len(non_latin) > 0.3 * len(letters):
        scripts = {_script_of(c) for c in non_latin}
        script = next((_SCRIPT_NAMES[s] for s in scripts if s in _SCRIPT_NAMES), "a non-Latin")
        raise BriefError(f"this prompt is written in {script} script; tunesmith's language model "
                         f"understands English descriptions only: please describe the song in "
                         f"English, {_EXAMPLE}")
    return text


@dataclass(frozen=True, slots=True)
class _Anchors:
    styles: list[Style]
    style_vecs: list[np.ndarray]  # per style: [n_texts, 384]
    mood: list[np.ndarray]  # per mood anchor: [n_texts, 384]
    style_moods: np.ndarray  # [n_styles, 2]: valence, arousal each style's own words evoke
    tempo: np.ndarray
    tempo_feel: np.ndarray
    instrument_words: list[tuple[str, str]]  # (word, instrument name)
    instrument_vecs: np.ndarray
    known_words: list[str]
    known_vecs: np.ndarray


class BriefReader:
    """Reads prompts into SongBriefs. Holds the encoder and the anchor embeddings: make one and
    reuse it for many prompts (`understand()` makes a fresh one each call)."""

    def __init__(self, encoder: SentenceEncoder | None = None, *,
                 styles: Sequence[Style] | None = None, tuning: Tuning | None = None) -> None:
        self.encoder = encoder or SentenceEncoder()
        self.tuning = tuning or Tuning()
        self.styles = list(styles) if styles is not None else [load_style(n) for n in style_names()]
        if not self.styles:
            raise BriefError("no styles are installed")
        self.genres = {s.name: style_words(s).genres for s in self.styles}
        self.hints = {s.name: style_words(s).hints for s in self.styles}
        enc = self.encoder.encode_cached
        # Words are compared with single-word instrument names only; a few names that are also
        # everyday words ("recorder", "keys", "beat") would catch "recording", "key", "beats".
        inst_words = [(w, i.name) for i in INSTRUMENTS for w in (i.name, *i.words)
                      if " " not in w and w not in _AMBIGUOUS_INSTRUMENT_WORDS]
        known = sorted({w for a in MOOD_ANCHORS for w in a.keywords} | set(TEMPO_WORDS)
                       | {w for g in self.genres.values() for w in g} | {w for w, _ in inst_words})
        mood = [enc([a.text, *a.scenes]) for a in MOOD_ANCHORS]
        style_vecs = [enc(prototype_texts(s)) for s in self.styles]
        style_moods = np.array([self._mood_point(_mood_sims(mood, v.mean(axis=0)), null=False)
                                for v in style_vecs])
        self._a = _Anchors(
            styles=self.styles, style_vecs=style_vecs, mood=mood, style_moods=style_moods,
            tempo=enc([t for _, t in TEMPO_ANCHORS]),
            tempo_feel=np.array([f for f, _ in TEMPO_ANCHORS]), instrument_words=inst_words,
            instrument_vecs=enc([w for w, _ in inst_words]), known_words=known,
            known_vecs=enc(known))

    # ------------------------------------------------------------ language checks

    def _language(self, text: str, explicit: Explicit) -> list[str]:
        """Notes about the language; raises when nothing in the prompt can be read."""
        words = [w.lower() for w in _WORD_RE.findall(text)]
        english = sum(1 for w in words if w in STOPWORDS)
        foreign = {lang: sum(1 for w in words if w in vocab and w not in STOPWORDS)
                   for lang, vocab in FOREIGN_WORDS.items()}
        lang, hits = max(foreign.items(), key=lambda kv: kv[1])
        musical = [f for f in explicit.findings if not f.kind.startswith("instrument-repeat")]
        if hits >= 2 and hits > english:
            if not musical:
                raise BriefError(f"this prompt looks like {lang}; tunesmith's language model "
                                 f"understands English descriptions only: please describe the "
                                 f"song in English, {_EXAMPLE}")
            return [f"the prompt looks like {lang}: only the words tunesmith knows in English "
                    f"were used ({', '.join(sorted({f.value for f in musical}))})"]
        content = [w for w in words if w not in STOPWORDS]
        if content and not musical:
            pieces = [len(self.encoder.wordpieces(w)) for w in content]
            odd = sum(1 for w, n in zip(content, pieces, strict=True)
                      if n >= 3 or not re.search(r"[aeiouy]", w))
            if odd >= max(1, 0.6 * len(content)):
                raise BriefError(f"I can't find a musical idea in '{text[:60]}': describe the "
                                 f"song's style, mood, tempo or instruments, {_EXAMPLE}")
        return []

    # ------------------------------------------------------------ the parts

    def _style(self, vec: np.ndarray, explicit: Explicit, target_bpm: float | None, mood: Mood,
               wanted: Sequence[str]) -> tuple[StyleChoice, Style, np.ndarray]:
        t = self.tuning
        sims = np.array([float(np.max(v @ vec)) for v in self._a.style_vecs])
        scores = sims.copy()
        here = np.array([mood.valence, mood.arousal])
        scores -= t.style_mood_weight * np.linalg.norm(self._a.style_moods - here, axis=1)
        named_first = min((f.span[0], f.value) for f in explicit.of("genre", negated=False)) \
            if explicit.of("genre", negated=False) else None
        for i, s in enumerate(self.styles):
            scores[i] += t.instrument_fit_bonus * sum(1 for w in wanted if _plays(s, w))
            hits = [f for f in explicit.of("genre") if f.value == s.name]
            named = sum(1 for f in hits if not f.negated and f.number >= 1.0)
            hinted = sum(1 for f in hits if not f.negated and f.number < 1.0)
            scores[i] += t.genre_bonus * min(named, t.genre_bonus_cap)
            scores[i] += t.genre_hint_bonus * min(hinted, t.genre_bonus_cap)
            scores[i] -= t.genre_bonus * 2 * sum(1 for f in hits if f.negated)
            if named_first is not None and named_first[1] == s.name:
                scores[i] += t.first_genre_bonus
            if target_bpm is not None:
                lo, hi = s.tempo_range
                outside = max(math.log(lo / target_bpm), math.log(target_bpm / hi), 0.0)
                scores[i] -= t.tempo_fit_weight * outside / math.log(1.25)
            if explicit.beats_per_bar is not None and s.beats_per_bar is not None \
                    and s.beats_per_bar != explicit.beats_per_bar:
                scores[i] -= 0.2  # a waltz cannot be in 4/4
        probs = _softmax(scores, t.style_temperature)
        order = np.argsort(-probs)
        best, second = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
        choice = StyleChoice(self.styles[best].name, round(float(probs[best]), 3),
                             self.styles[second].name, round(float(probs[second]), 3))
        return choice, self.styles[best], scores

    def _mood_point(self, logits: np.ndarray, *, null: bool = True) -> np.ndarray:
        """(valence, arousal): anchors weighted by a softmax of their similarity; with `null`,
        a "no particular mood" anchor at a fixed similarity absorbs weak evidence."""
        t = self.tuning
        v = np.array([a.valence for a in MOOD_ANCHORS])
        a = np.array([a.arousal for a in MOOD_ANCHORS])
        if null:
            logits = np.append(logits, t.mood_null_logit)
            v, a = np.append(v, t.mood_null_valence), np.append(a, 0.0)
        w = _softmax(logits, t.mood_temperature)
        return np.array([float(w @ v), float(w @ a)])

    def _mood(self, vec: np.ndarray, explicit: Explicit) -> Mood:
        t = self.tuning
        logits = _mood_sims(self._a.mood, vec)
        for f in explicit.of("mood"):
            j = next(i for i, a in enumerate(MOOD_ANCHORS) if a.word == f.value)
            logits[j] += -3 * t.mood_keyword_bonus if f.negated else t.mood_keyword_bonus
        valence, arousal = self._mood_point(logits)
        w = _softmax(logits, t.mood_temperature)
        order = np.argsort(-w)
        strong = logits[order[0]] > t.mood_null_logit
        words = [MOOD_ANCHORS[i].word for i in order[:3]
                 if w[i] >= 0.5 * w[order[0]] and logits[i] > t.mood_null_logit - 0.03] \
            if strong else ["neutral"]
        return Mood(round(float(valence), 3), round(float(arousal), 3), tuple(words))

    def _tempo_feel(self, vec: np.ndarray, explicit: Explicit, mood: Mood) -> tuple[float, str]:
        t = self.tuning
        w = _softmax(self._a.tempo @ vec, t.tempo_temperature)
        encoded = float(w @ self._a.tempo_feel)
        mood_feel = 0.5 + 0.45 * mood.arousal
        blended = (1 - t.arousal_tempo_weight) * encoded + t.arousal_tempo_weight * mood_feel
        words = explicit.of("tempo-word")
        about_tempo = [f for f in words if "tempo" in f.value or "pace" in f.value]
        words = about_tempo or words
        if words:
            said = float(np.mean([f.number for f in words]))
            return t.tempo_word_weight * said + (1 - t.tempo_word_weight) * blended, "words"
        return blended, "mood"

    def _instruments_by_meaning(self, words: list[tuple[str, Span]], explicit: Explicit,
                                ) -> list[tuple[str, str, Span]]:
        """Words no rule read that the encoder places right next to an instrument's name
        ("saxophonist", "pianist", "violins")."""
        if not words:
            return []
        vecs = self.encoder.encode_cached([w for w, _ in words])
        sims = vecs @ self._a.instrument_vecs.T
        out = []
        for (word, span), row in zip(words, sims, strict=True):
            j = int(np.argmax(row))
            if row[j] >= self.tuning.instrument_similarity:
                out.append((word, self._a.instrument_words[j][1], span))
        del explicit
        return out

    def _understood(self, words: list[str]) -> set[str]:
        if not words:
            return set()
        sims = self.encoder.encode_cached(words) @ self._a.known_vecs.T
        return {w for w, row in zip(words, sims, strict=True)
                if float(row.max()) >= self.tuning.understood_similarity}

    # ------------------------------------------------------------ the whole brief

    def understand(self, prompt: str) -> SongBrief:
        text = check_prompt(prompt)
        t = self.tuning
        explicit = read_explicit(text, self.genres, self.hints)
        notes = self._language(text, explicit)
        vec = self.encoder.encode([explicit.positive_text(text) or text])[0]

        mood = self._mood(vec, explicit)
        feel, tempo_source = self._tempo_feel(vec, explicit, mood)
        said_bpm = explicit.tempo_bpm
        target = said_bpm if said_bpm is not None else (
            feel_to_bpm(feel) if tempo_source == "words" else None)
        instruments, unwanted, solo, extra_spans = self._instrument_lists(text, explicit)
        choice, style, _ = self._style(vec, explicit, target, mood, instruments)

        lo, hi = style.tempo_range
        if said_bpm is not None:
            tempo, tempo_source = float(round(said_bpm)), "prompt"
            if not lo <= said_bpm <= hi:
                notes.append(f"{said_bpm:g} bpm is outside {style.title}'s usual "
                             f"{lo:g}-{hi:g} bpm; kept as asked")
        elif tempo_source == "words":
            # Tempo words may stretch the style's range a little: a slow country song is slow.
            stretch = t.tempo_word_stretch
            tempo = float(round(min(max(feel_to_bpm(feel), lo / stretch), hi * stretch)))
        else:
            # No tempo said: between the style's own tempo and the mood's (geometric blend).
            share = t.style_tempo_share
            blend = style.default_tempo ** share * feel_to_bpm(feel) ** (1 - share)
            tempo = float(round(min(max(blend, lo), hi)))
            tempo_source = "style and mood"

        # Meter: said outright, else the style's own.
        if explicit.beats_per_bar is not None:
            bpb, compound, meter = explicit.beats_per_bar, explicit.compound, None
            meter = next(f.value for f in explicit.of("meter"))
        else:
            bpb, compound = style.beats_per_bar or 4, False
            meter = f"{bpb}/4"
        if style.beats_per_bar and style.beats_per_bar != bpb:
            notes.append(f"{style.title} is written in {style.beats_per_bar}/4; "
                         f"the song follows the prompt's {meter}")
        del compound

        key, key_source = self._key(text, explicit, mood, style)

        density_said = [f.number for f in explicit.of("density")]
        density = 0.5 + 0.25 * mood.arousal + (0.35 * float(np.mean(density_said)) if density_said else 0.0)
        if solo is not None:
            density = min(density, 0.3)
        structure = tuple(dict.fromkeys(f.value for f in explicit.of("structure")))
        unused = self._unused(text, explicit.spans + extra_spans)
        if max(choice.confidence, 0.0) < 0.2 and not explicit.findings:
            notes.append("the prompt says little about how the music should sound; "
                         f"chose {style.title} from its overall meaning")
        for f in explicit.of("meter-unsupported"):
            notes.append(f"{f.value} time is not supported; the song is in {meter}")
        return SongBrief(
            prompt=text, style=choice, mood=mood, tempo_bpm=tempo, tempo_source=tempo_source,
            time_signature=meter, key=key.name, key_source=key_source,
            harmony=style_words(style).harmony, density=round(float(np.clip(density, 0, 1)), 3),
            instruments_wanted=tuple(instruments), instruments_unwanted=tuple(unwanted),
            solo=solo, lead=self._lead(explicit, instruments, solo),
            length_s=explicit.length_s, structure=structure,
            unused_words=tuple(unused), notes=tuple(notes))

    def _key(self, text: str, explicit: Explicit, mood: Mood, style: Style) -> tuple[Key, str]:
        if explicit.key is not None:
            return explicit.key, "prompt"
        words = style_words(style)
        if explicit.mode is not None:
            mode, source = explicit.mode, "prompt (mode); tonic from style"
        else:
            lean = MINOR_LEAN.get(style.name, 0.0)
            minor = -mood.valence + lean > -self.tuning.minor_threshold
            mode, source = ("minor" if minor else "major"), "mood"
        choices = words.minor_keys if mode == "minor" else words.major_keys
        # A stable choice among the keys that sit well on the style's instruments: the same
        # prompt always gets the same key.
        h = int(hashlib.sha256(text.lower().encode()).hexdigest()[:8], 16)
        tonic = Key.parse(choices[h % min(len(choices), 4)]).tonic
        return Key(tonic, mode), source

    @staticmethod
    def _lead(explicit: Explicit, wanted: list[str], solo: str | None) -> str | None:
        """The instrument the prompt names the song after ("a piano ballad"), if it can play
        a tune and is still wanted (not "solo": then it plays everything anyway)."""
        if solo is not None:
            return None
        for f in explicit.of("lead"):
            inst = INSTRUMENT_BY_NAME.get(f.value)
            if f.value in wanted and inst is not None and inst.can_lead:
                return f.value
        return None

    def _instrument_lists(self, text: str, explicit: Explicit,
                          ) -> tuple[list[str], list[str], str | None, list[Span]]:
        wanted = [f.value for f in explicit.of("instrument", negated=False)]
        unwanted = [f.value for f in explicit.of("instrument", negated=True)]
        solo_f = explicit.of("solo")
        solo = solo_f[0].value if solo_f else None
        # Words no rule read, placed by meaning ("pianist" -> piano).
        spans = explicit.spans
        free = [(m.group(0).lower(), m.span()) for m in _WORD_RE.finditer(text)
                if m.group(0).lower() not in STOPWORDS and len(m.group(0)) > 2
                and all(m.end() <= a or m.start() >= b for a, b in spans)]
        found = self._instruments_by_meaning(free, explicit)
        for _word, name, _span in found:
            wanted.append(name)
        if solo is not None:
            unwanted = [u for u in unwanted if u != solo]
            wanted = [solo]
        wanted = [w for w in dict.fromkeys(wanted) if w not in unwanted]
        return wanted, list(dict.fromkeys(unwanted)), solo, [s for _, _, s in found]

    def _unused(self, text: str, spans: list[Span]) -> list[str]:
        free = []
        for m in _WORD_RE.finditer(text):
            w = m.group(0).lower().strip("'’-")
            if w in STOPWORDS or len(w) < 3:
                continue
            if all(m.end() <= a or m.start() >= b for a, b in spans):
                free.append(w)
        understood = self._understood(sorted(set(free)))
        return [w for w in dict.fromkeys(free) if w not in understood]


def _mood_sims(anchors: list[np.ndarray], vec: np.ndarray) -> np.ndarray:
    """Per mood anchor, the best similarity of any of its texts to `vec`."""
    return np.array([float(np.max(a @ vec)) for a in anchors])


def _plays(style: Style, instrument: str) -> bool:
    """Does a part of `style` play `instrument` (by General MIDI family)?"""
    from tunesmith.brief.orchestra import part_plays

    return any(part_plays(p, instrument) for p in style.parts)


def understand(prompt: str, *, reader: BriefReader | None = None) -> SongBrief:
    """Text prompt -> SongBrief. Pass a `BriefReader` to reuse its encoder for many prompts."""
    return (reader or BriefReader()).understand(prompt)
