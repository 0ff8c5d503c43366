"""The keyword rule tables behind :mod:`engine.data.labels`: genre, language, era noise, explicit tags.

Data only (regular expressions and the values they map to); the module docstring of
:mod:`engine.data.labels` explains how the rules vote.
"""

from __future__ import annotations

# Ordered rules: a tag gets the genre of the FIRST rule whose pattern it contains.
GENRE_RULES: tuple[tuple[str, str], ...] = (
    ("metal", r"metal|grindcore|deathcore|djent|sludge|\bdoom\b"),
    ("punk", r"punk|hardcore|screamo|\bemo\b"),
    ("hip-hop", r"hip[- ]?hop|\brap(s|per|pers|core)?\b|deutschrap|grime|gangsta|dirty south"),
    ("r&b/soul", r"\br ?(and|&|n|'n') ?b\b|\brnb\b|\bsoul\b|funk|motown"),
    ("electronic", r"electro|ambient|industrial|trip[- ]?hop|synth|techno|trance|\bhouse\b|\bidm\b|\bebm\b|"
                   r"downtempo|chill ?out|dubstep|drum ?(and|n|&|'n') ?bass|\bdnb\b|breakbeat|darkwave|minimal"),
    ("dance", r"dance(?!hall)|disco(?!ver|nnect)|\bclub\b"),
    ("jazz", r"jazz|lounge|swing|bebop|big band"),
    ("classical", r"classical|composer|baroque|opera|orchestr|symphon"),
    ("blues", r"blues"),
    ("country", r"country|americana|bluegrass|honky ?tonk"),
    ("folk", r"folk|singer[- ]?songwriter|acoustic|celtic"),
    ("reggae", r"reggae|\bska\b|\bdub\b|dancehall"),
    ("latin", r"latin|\bmpb\b|bossa|samba|flamenco|sertanejo|\baxe\b|salsa|tango|forro|pagode|cumbia|bachata"),
    # World music itself, not any tag containing "world" ("best songs in the world") and not
    # language-defined pop/rock scenes (J-pop, K-pop, chanson → pop; J-rock → rock below).
    ("world", r"^world ?(music|fusion|beats?|groove|folk)?$|^worldmusic$|\bworld ?beat|afrobeat|\bfado\b|"
              r"\bafrican\b|\bklezmer\b|\bbalkan\b|\bgypsy\b|\bqawwali\b|\bindian classical\b"),
    ("soundtrack", r"soundtrack|\bost\b|\banime\b|video ?games?|\bgames?\b|score\b|bollywood"),
    ("pop", r"pop(?!ul)|\bteen|girl groups?|chanson|schlager"),
    ("indie/alternative", r"indie|alternative|experimental|new wave|post[- ]?rock|grunge|shoegaz|avant|lo-?fi|noise"),
    ("rock", r"rock|psychedelic|progressive|\bprog\b|garage|\bsurf\b|visual kei"),
    ("new age", r"new age|relax|meditation"),
    ("christian/gospel", r"christian|gospel|worship"),
)
GENRES = tuple(g for g, _ in GENRE_RULES)

# Value of ``language`` for acts without lyrics (ISO 639-2 "no linguistic content").
NO_LYRICS = "zxx"

# Language rules: (code, kind, pattern), first match wins. Kinds (see the module docstring):
# ``instrumental`` and ``lyric`` name the lyrics; ``origin`` (English-speaking nationality,
# only as the whole tag) and ``nation`` (a country whose acts mostly sing the local language)
# vote directly; ``export`` (a country whose acts known abroad mostly sing English) votes for
# "en" only when an artist has no direct vote. A ``None`` code: the tag says nothing.
_VERSION = r"\b(versions?|covers?|remix(es)?|translations?|influenced|inspired)\b"
LANGUAGE_RULES: tuple[tuple[str | None, str, str], ...] = (
    (None, "", _VERSION),  # "spanish version", "german cover": about one recording or influence
    (NO_LYRICS, "instrumental", r"^instrumentals?\b|^piano solo$"),
    (NO_LYRICS, "style", r"^post[- ]?rock$|\bcomposers?\b|\bfilm score|^scores?$|^baroque$|^idm$|^chiptunes?$"),
    ("es", "lyric", r"\bspanish metal\b"),  # the Spanish-language metal scene (Mägo de Oz)
    ("en", "export", r"\b(german|swedish|finnish|norwegian|danish|dutch|icelandic|polish|brazilian|brasil|"
                     r"greek|italian|french|russian|mexican|israeli|turkish|portuguese)\b.*\bmetal\b"),
    ("ja", "lyric", r"\bj-?(pop|rock|metal|ska|rap|hip-?hop)\b|visual kei|\bjapanese (pop|rock|hip-?hop|rap)\b|"
                    r"\banime\b"),
    ("ja", "nation", r"^japan(ese)?\b"),
    ("ko", "lyric", r"\bk-?(pop|rock|rap|hip ?hop|indie)\b|\bkindie\b|\bkorean (pop|rock|hip-?hop|rap|music)\b"),
    ("ko", "nation", r"^korea(n)?\b"),
    ("zh", "lyric", r"\bc-?pop\b|mandopop|cantopop|\bcantonese\b|\bmandarin\b"),
    ("zh", "nation", r"^(chinese|taiwanese)\b"),
    ("de", "lyric", r"\bdeutsch(?!land)|\bndw\b|\bndh\b|neue deutsche h|schlager|liedermacher|"
                    r"\bgerman (hip ?hop|rap|lyrics|schlager)\b|\bgerman[- ]language\b"),
    ("de", "export", r"^(german|deutschland|austrian)\b"),
    ("sv", "export", r"^swed(en|ish)\b"),
    ("fi", "export", r"^finn(ish|land)\b"),
    ("no", "export", r"^norw(ay|egian)\b"),
    ("da", "export", r"^(danish|denmark)\b"),
    ("nl", "export", r"^(dutch|holland)\b"),
    ("is", "export", r"^iceland(ic)?\b"),
    ("pt", "lyric", r"\bmpb\b|bossa ?nova|\bsamba\b|\baxe\b|sertanejo|\bforro\b|\bpagode\b|portugu[eê]s|\bfado\b|"
                    r"musica (popular )?brasileira|\bbrazilian (rock|pop|music)\b|\brock (brasil|brasileiro|nacional)\b"),
    ("pt", "nation", r"^(brazil(ian)?|brasil(eira|eiro)?|made in brazil)\b"),
    ("es", "lyric", r"\bspanish\b|espa[nñ]ol|\blatin (pop|rock)\b|\bpop latino\b|flamenco|reggaeton|\bsalsa\b|"
                    r"\btango\b|\bcumbia\b|\bbachata\b|ranchera|\brock (en espanol|argentino)\b|"
                    r"\bmexican (pop|folk)\b|\bregional mexican\b"),
    ("es", "nation", r"^(mexican[oa]?|argentin[ao]?|argentinian|colombian[oa]?|chilean[oa]?)\b"),
    ("fr", "lyric", r"\bchanson|\bfran[cç]ais|\bfrench (pop|rap|hip ?hop|rock|lyrics|chanson|vocalists?)\b|"
                    r"\brap fran|\bquebec"),
    (None, "", r"^french\b"),  # French acts known abroad sing French and English about equally
    ("it", "lyric", r"\bitalian[oa]\b|cantautor|\bitalian (pop|rock|music|progressive|prog|symphonic)|"
                    r"\bpop italiano\b|\brock italiano\b"),
    ("it", "nation", r"^italian\b"),
    ("ru", "lyric", r"\brussian (rock|pop|alternative|rap|hip-?hop|underground|indie|bard|chanson)\b"),
    ("ru", "nation", r"^russian?\b"),
    ("sv", "lyric", r"\bsvensk|\bswedish (lyrics|hip ?hop|rap)\b"),
    ("fi", "lyric", r"\bsuomi"),
    ("no", "lyric", r"\bnorsk\b"),
    ("pl", "lyric", r"\bpolsk|\bpolish (rock|punk|hip-?hop|rap|music|pop)\b"),
    ("pl", "nation", r"^polish\b"),
    ("tr", "lyric", r"\bt[uü]rk[cç]e\b|\bturkish (rock|pop)\b"),
    ("tr", "nation", r"^turkish\b"),
    ("el", "lyric", r"\bgreek\b"),
    ("he", "lyric", r"\bhebrew\b"),
    ("hi", "lyric", r"\bhindi\b|bollywood"),
    ("ar", "lyric", r"\barabic\b"),
    ("nl", "lyric", r"\bnederland"),
    ("en", "origin", r"^(british|american|uk|usa|us|english|canadian|australian|scottish|irish|welsh|"
                     r"new zealand|brit ?pop)$"),
)
DIRECT_LANGUAGE_KINDS = ("lyric", "instrumental", "origin", "nation")
WEAK_LANGUAGE_KINDS = ("export", "style")

# Tags that name explicit content (or a genre whose records near-universally carry a
# Parental Advisory label).
EXPLICIT_TAGS = r"\bexplicit\b|parental advisory|gangsta|horrorcore"

# Decade tags that say the artist is NOT from that decade (influence, revival, pastiche).
ERA_NOISE = r"revival|influenc|inspired|\bstyle\b|retro|tribute|cover|sounding|\blike\b"

# Unicode scripts that point to a language when a name is written in them.
SCRIPT_LANGUAGES = {
    "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "CYRILLIC": "ru", "GREEK": "el",
    "ARABIC": "ar", "HEBREW": "he", "THAI": "th", "DEVANAGARI": "hi",
}
