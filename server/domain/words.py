"""English for error messages built from values: the article a word takes."""

from __future__ import annotations


def a(word: str) -> str:
    """`word` with its indefinite article: "an image", "a video", "an api_buckets_delete"
    (by its first letter: no word bucketd puts here starts with a silent or sounded-out one)."""
    return f"{'an' if word[:1].lower() in {'a', 'e', 'i', 'o', 'u'} else 'a'} {word}"
