"""Display names for attribute values and pages (no logic, no Streamlit).

:data:`PAGES` is the one list of page keys: the router, the link/state validation and the
case-study links all read it.
"""

from __future__ import annotations

# page key (also its URL path and its ``?page=`` value) → title, in navigation order
PAGES = {
    "history": "Listening history",
    "compare": "Instruction & results",
    "auto": "Auto (personalised)",
    "attention": "Attention",
    "myopia": "Myopia",
    "whatif": "What-if",
    "case_study": "Case study & share",
    "story": "Story mode",
    "evidence": "Evidence",
}
PAGE_KEYS = tuple(PAGES)
DEFAULT_PAGE = "history"

# Attention page heatmaps: key (in links) → radio label
ATTENTION_VIEWS = {"branch": "Branch query weights", "cgsa": "CGSA mask", "backbone": "Backbone weights",
                   "causal": "Backbone causal mask", "tamip": "TAMIP mask"}

LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese",
    "it": "Italian", "sv": "Swedish", "fi": "Finnish", "no": "Norwegian", "da": "Danish",
    "nl": "Dutch", "pl": "Polish", "ru": "Russian", "ja": "Japanese", "ko": "Korean",
    "zh": "Chinese", "tr": "Turkish", "el": "Greek", "he": "Hebrew", "ar": "Arabic",
    "hi": "Hindi", "is": "Icelandic", "hu": "Hungarian", "cs": "Czech", "ro": "Romanian",
    "zxx": "instrumental (no lyrics)", "unknown": "unknown",
}

EXPLICIT_LABELS = {
    "allow": "Allow explicit",
    "exclude_known": "Exclude known explicit",
    "exclude_unknown": "Exclude explicit and unknown",
}

EXPLICIT_SHORT = {"true": "explicit", "false": "clean", "unknown": "explicit unknown"}

POPULARITY_LABELS = {"head": "head (most listened)", "torso": "torso", "tail": "tail (niche)"}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def language_label(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name and name != code else code
