"""Messages built from values take the right article (issue 38: "a image property")."""

from __future__ import annotations

import pytest

from bucketd.server.domain.words import a


@pytest.mark.parametrize(
    ("word", "phrase"),
    [
        ("image", "an image"),
        ("audio", "an audio"),
        ("excel", "an excel"),
        ("pdf", "a pdf"),
        ("video", "a video"),
        ("api_buckets_delete", "an api_buckets_delete"),
        ("", "a "),
    ],
)
def test_the_article_follows_the_first_letter(word: str, phrase: str) -> None:
    assert a(word) == phrase
