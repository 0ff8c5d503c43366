"""The words :mod:`engine.serving.ask` understands: phrase → meaning, in one table.

Phrases are written as a user would type them; :func:`phrase_table` normalises each one
into the token tuple the parser matches (accents and case folded, ``&`` → ``and``,
hyphens and slashes split, apostrophes dropped), so "hip-hop", "hip hop" and "Hip Hop" are
one entry. Values are catalogue values (genres as in ``items["genre"]``, ISO 639-1 codes);
the parser keeps only values the loaded catalogue has and reports the others.

Popularity, as documented for users: hits / popular / mainstream / famous → head;
lesser-known / less popular / underrated → torso + tail; deep cuts / hidden gems / obscure /
underground / niche → tail; "not too popular", "no hits" → the complement of head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.serving.artists import normalise


@dataclass(frozen=True)
class Meaning:
    """What a phrase means: ``kind`` plus atoms ``((field, value), ...)`` and an optional note."""

    kind: str  # genre | language | era | explicit | explicit_word | popularity | heard | new | neg | conj | ...
    atoms: tuple[tuple[str, str], ...] = ()
    note: str = ""


GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "hip-hop": ("hip hop", "hiphop", "rap", "rapper", "rappers", "trap", "boom bap", "gangsta rap", "grime",
                "rap music"),
    "r&b/soul": ("r&b", "rnb", "r and b", "r'n'b", "rhythm and blues", "soul", "neo soul", "funk", "motown",
                 "r&b/soul"),
    "electronic": ("electronic", "electronica", "edm", "techno", "house", "trance", "dubstep", "drum and bass",
                   "dnb", "idm", "electro", "ambient", "synthwave", "breakbeat", "downtempo", "trip hop"),
    "indie/alternative": ("indie", "alternative", "alt", "alt rock", "alternative rock", "indie rock",
                          "shoegaze", "post rock", "britpop", "indie/alternative"),
    "metal": ("metal", "heavy metal", "death metal", "black metal", "thrash", "thrash metal", "metalcore",
              "nu metal", "doom metal", "power metal", "symphonic metal"),
    "rock": ("rock", "classic rock", "hard rock", "soft rock", "prog", "prog rock", "progressive rock",
             "psychedelic rock", "garage rock", "grunge", "rock music"),
    "pop": ("pop", "pop music", "popmusic", "dance pop", "teen pop"),
    "punk": ("punk", "punk rock", "hardcore punk", "post punk", "emo"),
    "folk": ("folk", "folk music", "singer songwriter", "americana folk"),
    "dance": ("dance", "disco", "eurodance", "club", "dance music"),
    "world": ("world", "world music", "afrobeat", "afrobeats", "celtic"),
    "jazz": ("jazz", "swing", "bebop", "smooth jazz", "big band"),
    "country": ("country", "bluegrass", "americana", "country music"),
    "latin": ("latin", "reggaeton", "salsa", "bossa nova", "bachata", "cumbia", "tango"),
    "classical": ("classical", "classical music", "orchestral", "opera", "baroque", "symphonic", "chamber music"),
    "reggae": ("reggae", "ska", "dub", "dancehall"),
    "soundtrack": ("soundtrack", "soundtracks", "film score", "film scores", "movie music", "ost", "score",
                   "video game music"),
    "blues": ("blues", "delta blues"),
    "christian/gospel": ("christian", "gospel", "worship", "christian/gospel"),
    "new age": ("new age", "meditation", "relaxation"),
}
# Two-genre phrases the catalogue (one genre per artist) can only approximate: read as one genre, noted.
GENRE_APPROX: dict[str, tuple[str, str]] = {
    "pop punk": ("punk", "'pop punk' read as punk (an artist has one genre here; add pop to widen it)"),
    "pop rock": ("rock", "'pop rock' read as rock (an artist has one genre here; add pop to widen it)"),
    "indie pop": ("indie/alternative", "'indie pop' read as indie/alternative (one genre per artist)"),
    "synth pop": ("electronic", "'synth pop' read as electronic (one genre per artist)"),
    "synthpop": ("electronic", "'synthpop' read as electronic (one genre per artist)"),
    "folk rock": ("folk", "'folk rock' read as folk (one genre per artist)"),
    "country rock": ("country", "'country rock' read as country (one genre per artist)"),
    "ska punk": ("punk", "'ska punk' read as punk (one genre per artist)"),
    "latin pop": ("latin", "'latin pop' read as latin (one genre per artist)"),
    "rock and roll": ("rock", "'rock and roll' read as one genre, rock (not rock + roll)"),
    "rock n roll": ("rock", "'rock n roll' read as one genre, rock"),
    "rocknroll": ("rock", "'rock'n'roll' read as one genre, rock"),
    "rock a billy": ("rock", "'rockabilly' read as rock"),
    "rockabilly": ("rock", "'rockabilly' read as rock"),
}
# Language + genre in one word.
SCENES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "k pop": ((("languages", "ko"), ("genres", "pop")), ""), "kpop": ((("languages", "ko"), ("genres", "pop")), ""),
    "j pop": ((("languages", "ja"), ("genres", "pop")), ""), "jpop": ((("languages", "ja"), ("genres", "pop")), ""),
    "j rock": ((("languages", "ja"), ("genres", "rock")), ""), "jrock": ((("languages", "ja"), ("genres", "rock")), ""),
    "c pop": ((("languages", "zh"), ("genres", "pop")), ""), "cpop": ((("languages", "zh"), ("genres", "pop")), ""),
    "mandopop": ((("languages", "zh"), ("genres", "pop")), ""), "cantopop": ((("languages", "zh"), ("genres", "pop")), ""),
    "schlager": ((("languages", "de"), ("genres", "pop")), "'schlager' read as German pop"),
    "chanson": ((("languages", "fr"),), "'chanson' read as French-language (any genre)"),
    "mpb": ((("languages", "pt"),), "'MPB' read as Portuguese-language (any genre)"),
}
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("english", "anglophone"), "de": ("german", "deutsch", "deutsche", "deutscher"),
    "fr": ("french", "francais", "francaise", "francophone"), "es": ("spanish", "espanol", "castellano"),
    "pt": ("portuguese", "portugues"), "ru": ("russian", "russkiy", "russkij"), "ja": ("japanese", "nihongo"),
    "ko": ("korean", "hangul"), "zh": ("chinese", "mandarin", "cantonese"), "sv": ("swedish", "svenska"),
    "pl": ("polish", "polski"), "it": ("italian", "italiano"), "tr": ("turkish", "turkce"),
    "fi": ("finnish", "suomi"), "no": ("norwegian", "norsk"), "ar": ("arabic",), "el": ("greek",),
    "he": ("hebrew",), "nl": ("dutch", "nederlands", "flemish"), "th": ("thai",), "hi": ("hindi",),
    "da": ("danish", "dansk"), "is": ("icelandic",), "hu": ("hungarian",), "cs": ("czech",), "ro": ("romanian",),
    "uk": ("ukrainian",), "fa": ("persian", "farsi"), "id": ("indonesian",),
    "zxx": ("instrumental", "instrumentals", "no lyrics", "without lyrics", "no vocals", "without vocals",
            "no singing", "wordless", "lyricless"),
}
# Nationalities read as a language, with a note (nationality is not language).
NATIONALITIES = {"british": "en", "american": "en", "brazilian": "pt", "mexican": "es", "argentinian": "es",
                 "austrian": "de", "swiss": "de", "quebecois": "fr", "belgian": "nl"}
# Codes that are also English words: a code only after "in" / "language" / "lyrics", or typed in capitals.
AMBIGUOUS_CODES = frozenset({"no", "it", "he", "hi", "is", "el", "id", "uk", "da", "cs", "fa", "th", "ar"})

DECADE_WORDS = {20: "twenties", 30: "thirties", 40: "forties", 50: "fifties", 60: "sixties", 70: "seventies",
                80: "eighties", 90: "nineties"}


def era_label(year: int) -> str | None:
    """The catalogue's era value for a decade: 1920–1990 → "20s"…"90s"; 2000 → "00s"; 2010 → "10s"."""
    if 1920 <= year <= 1990:
        return f"{year % 100:02d}s"
    return {2000: "00s", 2010: "10s"}.get(year)


def _era_phrases() -> dict[str, int]:
    out: dict[str, int] = {}
    for year in range(1900, 2040, 10):
        out[f"{year}s"] = year
        if 1920 <= year <= 1990:
            out[f"{year % 100:02d}s"] = year
            out[DECADE_WORDS[year % 100]] = year
            out[f"nineteen {DECADE_WORDS[year % 100]}"] = year
    out.update({"00s": 2000, "noughties": 2000, "aughts": 2000, "oughts": 2000, "two thousands": 2000,
                "10s": 2010, "twenty tens": 2010, "y2k": 2000})
    return out


EXPLICIT_PHRASES: dict[str, str] = {
    "clean": "exclude_known", "clean lyrics": "exclude_known", "family friendly": "exclude_known",
    "kid friendly": "exclude_known", "kids friendly": "exclude_known", "child friendly": "exclude_known",
    "for kids": "exclude_known", "for children": "exclude_known", "radio friendly": "exclude_known",
    "radio safe": "exclude_known", "safe for work": "exclude_known", "sfw": "exclude_known",
    "non explicit": "exclude_known", "censored": "exclude_known",
    "strictly clean": "exclude_unknown", "definitely clean": "exclude_unknown", "verified clean": "exclude_unknown",
    "known clean": "exclude_unknown", "certified clean": "exclude_unknown", "guaranteed clean": "exclude_unknown",
    "uncensored": "allow", "allow explicit": "allow", "explicit allowed": "allow", "dirty": "allow",
}
EXPLICIT_WORDS = ("explicit", "explicit lyrics", "explicit content", "swearing", "profanity", "cursing",
                  "curse words", "swear words", "parental advisory", "nsfw")
APPROVALS = frozenset({"fine", "ok", "okay", "allowed", "welcome", "acceptable", "good"})

POPULARITY_PHRASES: dict[str, tuple[str, ...]] = {
    "hits": ("head",), "hit": ("head",), "popular": ("head",), "very popular": ("head",),
    "most popular": ("head",), "mainstream": ("head",), "famous": ("head",), "well known": ("head",),
    "big names": ("head",), "chart toppers": ("head",), "chart": ("head",), "charts": ("head",),
    "head": ("head",), "top artists": ("head",), "stars": ("head",),
    "moderately popular": ("torso",), "mid tier": ("torso",), "torso": ("torso",), "somewhat known": ("torso",),
    "lesser known": ("torso", "tail"), "less known": ("torso", "tail"), "less popular": ("torso", "tail"),
    "underrated": ("torso", "tail"), "not so famous": ("torso", "tail"), "unsung": ("torso", "tail"),
    "deep cuts": ("tail",), "deep cut": ("tail",), "hidden gems": ("tail",), "hidden gem": ("tail",),
    "obscure": ("tail",), "underground": ("tail",), "niche": ("tail",), "rare": ("tail",),
    "long tail": ("tail",), "tail": ("tail",), "unknown artists": ("tail",), "little known": ("tail",),
}
# "heard": what the user already knows (negated → exclude heard); "new": exclude heard directly.
HEARD_PHRASES = ("heard", "already heard", "ive heard", "i have heard", "heard before", "i know",
                 "i already know", "my history", "in my history", "ive listened to", "already know")
NEW_PHRASES = ("new to me", "unheard", "havent heard", "have not heard", "i havent heard", "never heard",
               "ive never heard", "something new", "new artists", "new music", "discover", "discoveries",
               "fresh", "exclude heard", "exclude already heard", "not heard", "not already heard")
NEGATIONS = ("no", "not", "without", "except", "except for", "excluding", "exclude", "avoid", "skip",
             "nothing", "none", "never", "minus", "ban", "block", "dont", "do not", "no more", "other than",
             "anything but", "but not", "leave out", "apart from", "aside from", "non", "nor", "neither",
             "nothing by", "none by", "nothing from", "not by", "no songs by", "nobody like")
CONJUNCTIONS = ("and", "or", "plus", "/", "+", "as well as", "and or", "either")
RANGE_WORDS = ("to", "through", "thru", "till", "until", "up to")
STRONG_STOPS = ("but", ";", ".", "!", "?", "however")
POSITIVE_MARKERS = ("only", "just", "but only", "instead")
ERA_MODIFIERS = ("early", "mid", "late", "mid to late", "early to mid")
LANGUAGE_CONTEXT = frozenset({"in", "language", "lang", "languages", "lyrics", "sung"})
FILLER = frozenset({
    "a", "an", "the", "some", "any", "me", "i", "im", "want", "wanna", "would", "like", "love", "give", "play",
    "show", "find", "recommend", "get", "please", "music", "songs", "song", "tracks", "track", "artists",
    "artist", "bands", "band", "stuff", "tunes", "with", "from", "in", "of", "for", "by", "that", "which",
    "are", "is", "be", "something", "anything", "also", "too", "very", "more", "really", "mostly", "mix",
    "playlist", "list", "lets", "let", "hear", "listen", "listening", "sung", "lyrics", "vocals", "vocal",
    "language", "lang", "languages", "era", "decade", "decades", "genre", "genres", "kind", "type", "sort",
    "style", "all", "everything", "ones", "good", "great", "best", "nice", "can", "could", "you", "we", "us",
    "my", "our", "maybe", "perhaps", "time", "times", "made", "released", "come", "came", "out", "back",
    "period", "years", "year", "content", "rather", "mainly", "before", "ever", "again", "yet", "someone",
    "somebody",
})


def phrase_table(eras: bool = True) -> dict[tuple[str, ...], Meaning]:
    """Every phrase as a normalised token tuple → its :class:`Meaning` (later entries win ties)."""
    table: dict[tuple[str, ...], Meaning] = {}

    def put(phrase: str, meaning: Meaning) -> None:
        key = tuple(tokens_of(phrase))
        if key:
            table[key] = meaning

    for word in FILLER:
        put(word, Meaning("filler"))
    for genre, words in GENRE_WORDS.items():
        for w in (genre, *genre.split("/"), *words):
            put(w, Meaning("genre", (("genres", genre),)))
    for phrase, (genre, note) in GENRE_APPROX.items():
        put(phrase, Meaning("genre", (("genres", genre),), note))
    for phrase, (atoms, note) in SCENES.items():
        put(phrase, Meaning("genre", atoms, note))
    for code, words in LANGUAGE_WORDS.items():
        for w in words:
            put(w, Meaning("language", (("languages", code),)))
    for word, code in NATIONALITIES.items():
        put(word, Meaning("language", (("languages", code),), f"'{word}' read as the {code} language"))
    for phrase, year in (_era_phrases() if eras else {}).items():
        put(phrase, Meaning("era", (("eras", str(year)),)))
    for phrase, policy in EXPLICIT_PHRASES.items():
        put(phrase, Meaning("explicit", (("explicit", policy),)))
    for phrase in EXPLICIT_WORDS:
        put(phrase, Meaning("explicit_word"))
    for phrase, tiers in POPULARITY_PHRASES.items():
        put(phrase, Meaning("popularity", tuple(("popularity", t) for t in tiers)))
    for kind, phrases in (("heard", HEARD_PHRASES), ("new", NEW_PHRASES), ("neg", NEGATIONS),
                          ("conj", CONJUNCTIONS), ("range", RANGE_WORDS), ("stop", STRONG_STOPS),
                          ("positive", POSITIVE_MARKERS), ("modifier", ERA_MODIFIERS)):
        for p in phrases:
            put(p, Meaning(kind))
    put(",", Meaning("comma"))
    return table


_TOKEN = re.compile(r"[\w']+|[&,;.!?/+]")


def tokens_of(text: str) -> list[str]:
    """Normalised tokens: words (accents and case folded, apostrophes dropped), ``&`` → ``and``,
    and the punctuation the parser reads (``, ; . ! ? / +``)."""
    return [t.norm for t in split(text)]


@dataclass(frozen=True)
class Token:
    norm: str  # normalised form
    text: str  # as typed


def split(text: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(str(text)):
        raw = m.group(0)
        if raw == "&":
            out.append(Token("and", raw))
        elif raw in ",;.!?/+":
            out.append(Token(raw, raw))
        else:
            norm = normalise(raw.replace("_", " ")).replace(" ", "")
            if norm:
                out.append(Token(norm, raw.strip("'")))
    return out
