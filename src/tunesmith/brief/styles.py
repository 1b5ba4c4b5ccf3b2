"""What the brief knows about each style: the genre words that name it, a few more words for the
encoder, the harmony flavour it asks compose for, and keys that sit well on its instruments.

The styles themselves are read at run time from `arrange/styles/*.toml` (a new style file is
understood from its title and description alone); this table only adds what a style file does
not say."""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.arrange import Style


@dataclass(frozen=True, slots=True)
class StyleWords:
    genres: tuple[str, ...]  # words that name the genre outright ("bossa", "jazz")
    text: str = ""  # more words for the encoder's prototype
    harmony: str = "rich"  # compose's harmony flavour: simple, rich or jazzy
    major_keys: tuple[str, ...] = ("C", "G", "D", "F", "A", "Bb", "E", "Eb")
    minor_keys: tuple[str, ...] = ("A", "E", "D", "C", "G", "B", "F#", "F")
    hints: tuple[str, ...] = ()  # words that only hint at it ("soundtrack", "church")


_GUITAR_MAJOR = ("E", "A", "D", "G", "C")
_GUITAR_MINOR = ("E", "A", "D", "B", "F#")
_JAZZ_MAJOR = ("F", "Bb", "Eb", "C", "Ab", "G")
_JAZZ_MINOR = ("C", "D", "G", "F", "A")

STYLE_WORDS: dict[str, StyleWords] = {
    "pop": StyleWords(("pop", "teen pop", "k-pop", "dance pop", "power pop"),
                      "a catchy, upbeat radio pop song with a singalong chorus", "rich",
        hints=("radio", "chart", "catchy", "mainstream")),
    "pop-ballad": StyleWords(("ballad", "power ballad", "love ballad"),
                             "a slow emotional ballad with piano and strings, a love song",
                             "rich", ("Eb", "Ab", "C", "F", "Bb", "D"), ("C", "F", "A", "D", "E")),
    "rock": StyleWords(("rock", "rock and roll", "rock'n'roll", "classic rock", "hard rock",
                        "alternative rock", "indie rock", "garage rock", "arena rock",
                        "blues rock"),
                       "a rock band with electric guitars, bass and loud drums", "simple",
                       _GUITAR_MAJOR, _GUITAR_MINOR),
    "grunge": StyleWords(("grunge",),
                         "a gritty, angsty nineties grunge song, quiet verses and loud choruses",
                         "simple", _GUITAR_MAJOR, _GUITAR_MINOR,
        hints=("seattle", "90s rock", "nineties rock")),
    "metal": StyleWords(("metal", "heavy metal", "thrash", "death metal", "metalcore", "black metal", "doom metal"),
                        "a heavy metal song with aggressive distorted guitars and double bass drums",
                        "simple", ("E", "D", "A"), ("E", "D", "C#", "B", "A"),
        hints=("headbanging",)),
    "punk": StyleWords(("punk", "pop punk", "punk rock", "hardcore", "skate punk"),
                       "a fast, raw, rebellious punk rock song", "simple",
                       _GUITAR_MAJOR, _GUITAR_MINOR),
    "jazz-swing": StyleWords(("jazz", "swing", "bebop", "big band", "jazz trio", "hard bop"),
                             "a swinging jazz combo with saxophone, walking bass and ride cymbal",
                             "jazzy", _JAZZ_MAJOR, _JAZZ_MINOR,
        hints=("jazzy",)),
    "jazz-ballad": StyleWords(("jazz ballad", "smoky jazz", "late-night jazz", "cool jazz"),
                              "a slow, smoky late-night jazz ballad with muted trumpet and brushes",
                              "jazzy", _JAZZ_MAJOR, _JAZZ_MINOR,
        hints=("noir", "torch song")),
    "bossa-nova": StyleWords(("bossa", "bossa nova", "samba", "latin jazz"),
                             "a relaxed brazilian bossa nova with nylon guitar by the beach",
                             "jazzy", ("F", "D", "G", "C", "Bb"), ("D", "A", "E", "G", "C"),
        hints=("brazilian", "latin", "ipanema", "rio")),
    "funk": StyleWords(("funk", "disco"),
                       "a tight funky groove with slap bass, wah guitar and horn stabs", "rich",
                       ("E", "A", "D", "G", "C"), ("E", "A", "D", "G", "C"),
        hints=("funky", "groove", "slap bass")),
    "soul-rnb": StyleWords(("soul", "r&b", "rnb", "neo-soul", "neo soul", "motown", "rhythm and blues"),
                           "a warm, soulful r&b slow jam with electric piano", "jazzy",
                           ("Eb", "Ab", "Db", "Bb", "F"), ("C", "F", "G", "D", "Bb"),
        hints=("slow jam",)),
    "gospel": StyleWords(("gospel",),
                         "a joyful gospel song with choir, organ and hand claps in church",
                         "jazzy", ("Ab", "Db", "Eb", "Bb", "F"), ("F", "C", "G", "Bb"),
        hints=("church", "hymn", "spiritual", "praise", "worship", "choir")),
    "reggae": StyleWords(("reggae", "dub", "ska", "rocksteady"),
                         "a laid-back jamaican reggae groove with offbeat guitar skank",
                         "simple", ("G", "A", "D", "C", "E"), ("A", "E", "D", "B", "G"),
        hints=("jamaican", "island")),
    "country": StyleWords(("country", "bluegrass", "honky tonk", "americana"),
                          "a country song with twangy guitars, fiddle and banjo, a cowboy tale",
                          "simple", ("G", "D", "A", "C", "E"), ("E", "A", "D", "B"),
        hints=("western", "cowboy", "two-step", "nashville")),
    "folk": StyleWords(("folk",),
                       "an acoustic folk song with fingerpicked guitar and harmonica",
                       "simple", ("G", "D", "C", "A", "E"), ("E", "A", "D", "B"),
        hints=("acoustic", "singer-songwriter", "campfire", "fingerpicking", "celtic", "irish")),
    "lofi-hip-hop": StyleWords(("lofi", "lofi hip hop", "lo-fi hip hop", "lo-fi hip-hop", "chillhop",
                                "boom bap"),
                               "lo-fi hip hop beats to study and relax to, dusty and mellow",
                               "jazzy", ("F", "Eb", "C", "Bb", "D"), ("C", "D", "F", "A", "E"),
        hints=("lo-fi", "lo fi", "study beats", "chill beats", "beats to study")),
    "hip-hop-trap": StyleWords(("trap", "hip hop", "hip-hop", "rap", "drill", "hiphop"),
                               "a hard-hitting trap beat with 808 bass and rolling hi-hats",
                               "simple", ("C", "F", "G"), ("C", "F", "G", "D", "A", "E"),
        hints=("808s",)),
    "edm-house": StyleWords(("edm", "house", "techno", "trance", "electronic dance", "disco house", "dubstep"),
                            "an electronic dance track for the club, four on the floor",
                            "simple", ("F", "G", "A", "C", "D"), ("A", "F", "G", "C", "D"),
        hints=("club", "rave", "four on the floor", "dance music")),
    "synthwave": StyleWords(("synthwave", "retrowave", "outrun", "synthpop", "synth-pop", "new wave"),
                            "a retro eighties synthwave night drive with neon lights and synths",
                            "simple", ("C", "F", "G", "D"), ("A", "E", "F#", "D", "C"),
        hints=("80s", "eighties", "vaporwave")),
    "cinematic-orchestral": StyleWords(
        ("cinematic", "film score", "orchestral"),
        "an epic cinematic film score with a full orchestra, brass and timpani", "rich",
        ("D", "C", "Eb", "F", "Bb"), ("D", "C", "G", "E", "F"),
        hints=("epic", "movie", "trailer", "score", "soundtrack", "symphonic")),
    "string-quartet": StyleWords(("string quartet", "classical", "baroque", "chamber music"),
                                 "a classical string quartet, chamber music with violins and cello",
                                 "rich", ("D", "G", "C", "A", "F"), ("D", "G", "C", "A", "E"),
        hints=("chamber", "quartet")),
    "waltz": StyleWords(("waltz", "3/4", "three-four", "valse"),
                        "a graceful waltz in three-four time for dancing in a ballroom",
                        "rich", ("D", "G", "F", "C", "Bb"), ("A", "D", "E", "G"),
        hints=("vienna", "ballroom", "musette")),
}


def style_words(style: Style) -> StyleWords:
    """What we know of `style`; a style file we have no entry for is read from its own words."""
    known = STYLE_WORDS.get(style.name)
    if known is not None:
        return known
    title = style.title.lower()
    return StyleWords((title,) if title and title != style.name else (style.name.replace("-", " "),))


def prototype_texts(style: Style) -> list[str]:
    """Sentences the encoder compares a prompt with for `style`."""
    words = style_words(style)
    out = [f"{style.title}: {style.description}"]
    if words.text:
        out.append(words.text)
    if style.feel:
        out.append(f"{style.title} with a {style.feel} feel")
    return out
