"""Words as data: the anchor descriptions the sentence encoder compares a prompt with, and the
explicit vocabulary the rules read (instruments, tempo words, negations, structure hints).

Anchors are written as short music descriptions (the encoder was trained on sentence pairs, so
a phrase like "a sad, lonely song" places better than the single word "sad")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MoodAnchor:
    """A region of the valence/arousal plane (Russell's circumplex), described in words."""

    word: str  # what the brief reports
    valence: float  # -1 negative .. +1 positive
    arousal: float  # -1 calm .. +1 excited
    text: str  # what the encoder reads
    keywords: tuple[str, ...] = ()  # explicit words for this mood (rules and the baseline)
    scenes: tuple[str, ...] = ()  # everyday images that carry the mood (the encoder reads them too)


MOOD_ANCHORS: tuple[MoodAnchor, ...] = (
    MoodAnchor("happy", 0.8, 0.45, "a happy, cheerful, joyful song that makes you smile",
               ("happy", "cheerful", "joyful", "joy", "glad", "fun", "uplifting", "feel-good",
                "jolly", "merry", "positive"),
               ("a birthday party, children laughing, celebrating with friends",)),
    MoodAnchor("bright", 0.7, 0.2, "a bright, sunny, carefree tune on a summer day",
               ("bright", "sunny", "carefree", "summer", "summery", "light-hearted", "breezy"),
               ("a road trip on a sunny morning, blue skies and the open road", "sunshine, coffee and a lazy weekend morning")),
    MoodAnchor("energetic", 0.45, 0.9, "an energetic, exciting, high-energy party anthem",
               ("energetic", "exciting", "party", "danceable", "dance", "hype", "pumping",
                "high-energy", "lively", "groovy"),
               ("a workout, running fast, dancing all night in a club",)),
    MoodAnchor("triumphant", 0.65, 0.75, "a triumphant, epic, heroic and victorious anthem",
               ("triumphant", "epic", "heroic", "victorious", "anthemic", "majestic", "grand"),
               ("a hero returns victorious, winning the championship, a sports montage",)),
    MoodAnchor("playful", 0.7, 0.5, "a playful, silly, quirky and fun little tune",
               ("playful", "silly", "quirky", "whimsical", "cute", "bouncy"),
               ("a cartoon chase, a puppy playing, a silly game",)),
    MoodAnchor("romantic", 0.55, -0.25, "a romantic, tender love song for someone you adore",
               ("romantic", "love", "tender", "sweet", "loving", "sensual", "intimate"),
               ("a candlelit dinner, slow dancing with your lover, a wedding",)),
    MoodAnchor("calm", 0.45, -0.75, "a calm, peaceful, relaxing and soothing piece",
               ("calm", "peaceful", "relaxing", "relaxed", "soothing", "chill", "chilled",
                "mellow", "serene", "gentle", "soft", "laid-back", "meditative", "tranquil"),
               ("waves on a quiet beach, a slow breath, meditation and yoga",)),
    MoodAnchor("hopeful", 0.6, 0.1, "a hopeful, warm and inspiring song about a new beginning",
               ("hopeful", "inspiring", "inspirational", "warm", "optimistic", "uplifted"),
               ("sunrise after a storm, a fresh start, graduation day",)),
    MoodAnchor("dreamy", 0.25, -0.55, "a dreamy, floating, ethereal and hazy atmosphere",
               ("dreamy", "ethereal", "floating", "hazy", "ambient", "atmospheric", "spacey"),
               ("floating in space among the clouds, half asleep",)),
    MoodAnchor("nostalgic", -0.1, -0.35, "a nostalgic, bittersweet song full of old memories",
               ("nostalgic", "bittersweet", "wistful", "memories", "reminiscent", "longing"),
               ("looking at old photographs, childhood summers, my hometown",)),
    MoodAnchor("sad", -0.8, -0.45, "a sad, melancholic, heartbroken song about loss and tears",
               ("sad", "melancholic", "melancholy", "heartbroken", "sorrowful", "sorrow",
                "mournful", "tragic", "depressing", "depressed", "crying", "tears", "grief",
                "grieving", "heartbreak", "emotional", "somber", "sombre", "gloomy"),
               ("a funeral, tears and a broken heart, saying goodbye forever",)),
    MoodAnchor("lonely", -0.65, -0.6, "a lonely song at night, missing someone who is gone",
               ("lonely", "alone", "loneliness", "missing", "lost", "empty"),
               ("an empty room, rain on the window, thinking of an old love",)),
    MoodAnchor("dark", -0.6, 0.2, "a dark, ominous, mysterious and haunting mood",
               ("dark", "ominous", "mysterious", "haunting", "eerie", "creepy", "sinister",
                "spooky", "scary", "menacing", "suspenseful", "tense", "horror"),
               ("a haunted house, a storm, danger hiding in the shadows",)),
    MoodAnchor("angry", -0.6, 0.9, "an angry, aggressive, furious and rebellious track",
               ("angry", "aggressive", "furious", "rage", "rebellious", "violent", "hostile",
                "intense", "heavy"),
               ("a fight, rage, breaking things, a riot in the streets",)),
)

# Tempo feel: 0 = very slow .. 1 = very fast.
TEMPO_ANCHORS: tuple[tuple[float, str], ...] = (
    (0.05, "a very slow, quiet, drifting piece at a crawling tempo"),
    (0.25, "a slow, gentle ballad"),
    (0.5, "a relaxed mid-tempo groove, walking pace"),
    (0.75, "an upbeat, driving song with a quick tempo"),
    (0.95, "a very fast, frantic, racing tempo"),
)

# Explicit tempo words -> tempo feel. Longer phrases are matched first.
TEMPO_WORDS: dict[str, float] = {
    "very slow": 0.02, "really slow": 0.02, "super slow": 0.02, "extremely slow": 0.0,
    "slow tempo": 0.15, "slow": 0.18, "slower": 0.2, "slowly": 0.2, "downtempo": 0.22,
    "ballad": 0.2, "adagio": 0.15, "largo": 0.05, "lento": 0.08, "sluggish": 0.12,
    "laid-back": 0.35, "laid back": 0.35, "lazy": 0.25, "relaxed": 0.35, "unhurried": 0.25,
    "moderate": 0.5, "moderato": 0.5, "mid-tempo": 0.5, "midtempo": 0.5, "mid tempo": 0.5,
    "medium tempo": 0.5, "medium-tempo": 0.5, "medium": 0.5, "andante": 0.38,
    "walking pace": 0.45,
    # Said of the tempo itself: these outweigh loose words ("fast drum rolls" in a slow song).
    "tempo is slow": 0.15, "tempo is very slow": 0.03, "tempo is medium": 0.5,
    "tempo is moderate": 0.5, "tempo is fast": 0.85, "tempo is quick": 0.8,
    "tempo is very fast": 0.97, "tempo is upbeat": 0.72, "slow-paced": 0.2, "slow paced": 0.2,
    "medium-paced": 0.5, "medium paced": 0.5, "fast-paced": 0.85, "fast paced": 0.85,
    "moderate tempo": 0.5, "quick tempo": 0.8, "moderate pace": 0.5, "slow pace": 0.2,
    "fast pace": 0.85, "up tempo": 0.78,
    "upbeat": 0.72, "up-tempo": 0.78, "uptempo": 0.78, "driving": 0.72, "bouncy": 0.68,
    "quick": 0.78, "lively": 0.72, "allegro": 0.75, "energetic": 0.74, "danceable": 0.66,
    "fast tempo": 0.85, "fast": 0.85, "faster": 0.82, "rapid": 0.88, "presto": 0.92,
    "very fast": 0.97, "really fast": 0.97, "super fast": 0.97, "frantic": 0.95,
    "breakneck": 1.0, "racing": 0.9, "speedy": 0.88, "hyper": 0.9,
}

# Density words: -1 sparse .. +1 full.
DENSITY_WORDS: dict[str, float] = {
    "sparse": -1.0, "minimal": -0.9, "minimalist": -0.9, "stripped": -0.9, "stripped-back": -1.0,
    "stripped back": -1.0, "bare": -0.8, "simple": -0.4, "intimate": -0.6, "quiet": -0.5,
    "delicate": -0.6, "soft": -0.4, "lo-fi": -0.2, "acoustic": -0.3, "unplugged": -0.7,
    "full": 0.6, "lush": 0.8, "big": 0.6, "huge": 0.9, "massive": 0.9, "dense": 0.9,
    "wall of sound": 1.0, "layered": 0.7, "rich": 0.5, "epic": 0.7, "loud": 0.7, "powerful": 0.6,
}


@dataclass(frozen=True, slots=True)
class InstrumentWord:
    """An instrument family the arrangement can honour: the words that name it, the General
    MIDI program it plays with, and what it can do in a band."""

    name: str
    words: tuple[str, ...]
    program: int
    can_lead: bool  # can play the melody
    can_comp: bool  # can play the chords
    pad: bool = False  # sustained chords (strings, choir, synth pads)


INSTRUMENTS: tuple[InstrumentWord, ...] = (
    InstrumentWord("piano", ("piano", "pianos", "grand piano", "keys", "keyboard", "keyboards",
                             "ivories", "upright piano", "acoustic piano"), 0, True, True),
    InstrumentWord("electric piano", ("electric piano", "rhodes", "wurlitzer", "e-piano",
                                      "fender rhodes", "epiano"), 4, True, True),
    InstrumentWord("organ", ("organ", "hammond", "b3", "church organ", "organs"), 16, True, True),
    InstrumentWord("acoustic guitar", ("acoustic guitar", "acoustic guitars", "nylon guitar",
                                       "classical guitar", "fingerpicked guitar",
                                       "spanish guitar", "steel-string guitar"), 25, True, True),
    InstrumentWord("electric guitar", ("electric guitar", "electric guitars", "distorted guitar",
                                       "overdriven guitar", "lead guitar", "guitar riff",
                                       "guitar riffs", "power chords"), 29, True, True),
    InstrumentWord("guitar", ("guitar", "guitars"), 25, True, True),
    InstrumentWord("bass", ("bass", "bass guitar", "bassline", "bass line", "electric bass",
                            "upright bass", "double bass", "basses", "e-bass", "slap bass",
                            "808", "sub bass"), 33, False, False),
    InstrumentWord("drums", ("drums", "drum", "drum kit", "percussion", "beat", "beats",
                             "drummer", "drumbeat", "drum beat", "kick", "snare", "hi-hat",
                             "hihat", "hi-hats", "cymbals", "groove", "breakbeat",
                             "drum machine"), -1, False, False),
    InstrumentWord("strings", ("strings", "string section", "string ensemble", "orchestra",
                               "orchestral", "string quartet"), 48, True, True, pad=True),
    InstrumentWord("violin", ("violin", "violins", "fiddle", "fiddles"), 40, True, False),
    InstrumentWord("cello", ("cello", "cellos", "violoncello"), 42, True, False),
    InstrumentWord("harp", ("harp", "harps"), 46, True, True),
    InstrumentWord("choir", ("choir", "choral", "chorus of voices", "voices", "vocal harmonies",
                             "backing vocals"), 52, True, True, pad=True),
    InstrumentWord("trumpet", ("trumpet", "trumpets", "flugelhorn", "cornet"), 56, True, False),
    InstrumentWord("trombone", ("trombone", "trombones"), 57, True, False),
    InstrumentWord("brass", ("brass", "horns", "horn section", "brass section"), 61, True, True),
    InstrumentWord("saxophone", ("saxophone", "sax", "saxophones", "tenor sax", "alto sax",
                                 "tenor saxophone", "alto saxophone"), 66, True, False),
    InstrumentWord("clarinet", ("clarinet", "clarinets"), 71, True, False),
    InstrumentWord("flute", ("flute", "flutes", "pan flute", "piccolo", "recorder"), 73, True,
                   False),
    InstrumentWord("harmonica", ("harmonica", "blues harp"), 22, True, False),
    InstrumentWord("accordion", ("accordion", "bandoneon", "concertina"), 21, True, True),
    InstrumentWord("vibraphone", ("vibraphone", "vibes", "marimba", "xylophone",
                                  "glockenspiel", "celesta", "bells"), 11, True, False),
    InstrumentWord("synth", ("synth", "synths", "synthesizer", "synthesizers", "synth lead",
                             "synth bass", "analog synth", "arpeggiator", "electronic"), 81,
                   True, True),
    InstrumentWord("synth pad", ("pad", "pads", "synth pad", "synth pads", "ambient pad"), 89,
                   False, True, pad=True),
    InstrumentWord("banjo", ("banjo", "banjos"), 105, True, True),
    InstrumentWord("ukulele", ("ukulele", "uke"), 24, True, True),
    InstrumentWord("mandolin", ("mandolin",), 24, True, True),
    InstrumentWord("voice", ("vocal", "vocals", "singer", "singing", "voice", "vocalist",
                             "sung", "male vocal", "female vocal", "male voice",
                             "female voice"), 85, True, False),
)
INSTRUMENT_BY_NAME = {i.name: i for i in INSTRUMENTS}

# Words that negate the instrument named right after them ("no drums", "without a guitar").
NEGATIONS = ("no", "without", "without any", "minus", "zero", "not", "don't want", "do not want",
             "dont want", "never", "lose the", "skip the", "no more", "nothing but")
# "nothing but X" is a solo, not a negation; handled before negations.
SOLO_PATTERNS = (
    # "X solo" is solo instrumentation only as a piece's description ("piano solo piece", or
    # the prompt opening with it); "with a screaming guitar solo" is a feature of a band.
    r"\bsolo ({inst})\b", r"^(?:an? )?({inst}) solo\b",
    r"\b({inst}) solo (?=piece|performance|arrangement|version|recital|album|track|song)",
    r"\bjust (?:a |an |the )?({inst})\b",
    r"\bonly (?:a |an |the )?({inst})\b", r"\b({inst}) only\b", r"\b({inst}) alone\b",
    r"\bnothing but (?:a |an |the )?({inst})\b", r"\bunaccompanied ({inst})\b",
)
# "-less" forms: drumless, beatless.
LESS_WORDS = {"drumless": "drums", "beatless": "drums", "bassless": "bass"}

# Structure hints the arrangement honours: name -> phrases that ask for it.
STRUCTURE_HINTS: dict[str, tuple[str, ...]] = {
    "long intro": ("long intro", "extended intro", "long introduction", "slow build intro",
                   "takes its time to start", "long instrumental intro"),
    "big final chorus": ("big final chorus", "huge final chorus", "builds to a big",
                         "builds to a huge", "builds up to", "build to a", "builds to a",
                         "big ending", "climactic", "explosive ending", "epic finale",
                         "final chorus", "crescendo", "builds"),
    "quiet ending": ("fade out", "fades out", "fading out", "quiet ending", "ends quietly",
                     "gentle ending", "soft ending", "fades away", "dies away"),
    "short intro": ("no intro", "short intro", "straight into", "starts right away"),
}

def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words that carry no musical meaning (never reported as unused).
STOPWORDS = _word_set("""
a an the and or but of to in on at by for with from into onto over under about as is are was were
be been being it its this that these those i me my we our you your he she they them their his her
some any all very really quite just so too also like such than then there here which who whom
what when where while how song songs track tune tunes music piece something someone thing make
makes made give want would could should can will shall please maybe kind sort bit little lot
more most less feel feels feeling sounds sound sounding style type vibe vibes mood one two three
has have had do does did not no yet up down out off again once through during before after
""")

# Common words of other languages written in Latin script: a prompt made of these is not English.
FOREIGN_WORDS: dict[str, frozenset[str]] = {
    "Spanish": _word_set("el la los las una un y de del con sin para por canción cancion triste "
                         "lenta lento alegre rápido rapido noche amor muy que es en mi"),
    "French": _word_set("le la les une un et de du des avec sans pour chanson triste lente "
                        "joyeuse rapide nuit amour très tres qui est dans sous mon ma pluie"),
    "German": _word_set("der die das ein eine und mit ohne für fur lied traurig langsam "
                        "fröhlich frohlich schnell nacht liebe sehr ist im auf mein"),
    "Italian": _word_set("il lo la gli le una un e di con senza per canzone triste lenta "
                         "allegra veloce notte amore molto che è nel mio"),
    "Portuguese": _word_set("o a os as uma um e de do da com sem para canção cancao triste lenta "
                            "alegre rápida rapida noite amor muito que é no na meu"),
}
