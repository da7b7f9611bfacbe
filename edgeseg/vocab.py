"""The fixed caption vocabulary: words <-> token ids, shared by data, training, export and runtime.

Why here and torch-free: a dense-captioning graph emits token ids, and the runtime (which knows no
dataset) turns them into words from the vocabulary stored in the graph's metadata
(`edgeseg.vocabulary`). Ids are fixed by the order below, so a trained decoder and its graph agree
without shipping a file. ShapesWorld phrases use only these words and at most MAX_TOKENS of them
(tests/data/test_phrases.py holds the generator to that).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from edgeseg.errors import EdgesegError

METADATA_KEY = "edgeseg.vocabulary"
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL = ("<pad>", "<bos>", "<eos>", "<unk>")
MAX_TOKENS = 10  # words per phrase; a decoder emits MAX_TOKENS + 1 steps (room for <eos>)

_SHAPES_WORDS = (
    "small", "medium", "large",
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "white", "black", "brown",
    "circle", "square", "triangle", "star", "person",
    "left", "right", "of", "above", "below", "a",
    "in", "standing", "raising", "the", "arm", "both", "arms", "with", "out", "legs", "apart",
    "against", "sky", "on", "grass", "water", "road", "by", "wall",
)


@dataclass(frozen=True)
class Vocabulary:
    """Token strings by id; ids 0-3 are <pad>, <bos>, <eos>, <unk>."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[:len(SPECIAL)] != SPECIAL or len(set(self.tokens)) != len(self.tokens):
            raise EdgesegError(f"a vocabulary starts with {', '.join(SPECIAL)} and has no repeated token")

    @cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def tokenize(self, phrase: str) -> list[int]:
        """Word ids of `phrase` (lower-cased, split on spaces); an unknown word is an error, not <unk>,
        so a generator change that outgrows the vocabulary fails loudly."""
        words = phrase.lower().split()
        unknown = [w for w in words if w not in self.index or self.index[w] < len(SPECIAL)]
        if unknown:
            raise EdgesegError(f"phrase {phrase!r} has words outside the vocabulary: {unknown}")
        return [self.index[w] for w in words]

    def encode(self, phrase: str, length: int = MAX_TOKENS + 1) -> list[int]:
        """Fixed-length target: word ids, <eos>, then <pad>; refuses phrases that do not fit."""
        ids = self.tokenize(phrase)
        if len(ids) + 1 > length:
            raise EdgesegError(f"phrase {phrase!r} has {len(ids)} words; at most {length - 1} fit")
        return ids + [EOS] + [PAD] * (length - len(ids) - 1)

    def detokenize(self, ids: Iterable[int]) -> str:
        """Words up to the first <eos> or <pad>; <bos> is skipped, out-of-range ids read <unk>."""
        words = []
        for i in (int(v) for v in ids):
            if i in (EOS, PAD):
                break
            if i != BOS:
                words.append(self.tokens[i] if 0 <= i < len(self.tokens) else SPECIAL[UNK])
        return " ".join(words)

    def dumps(self) -> str:
        return json.dumps(list(self.tokens))


def vocabulary_from_metadata(props: Mapping[str, str], source: str) -> Vocabulary | None:
    """The graph's vocabulary (None when it has none); a damaged entry is one clear error."""
    if METADATA_KEY not in props:
        return None
    try:
        tokens = json.loads(props[METADATA_KEY])
        if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)):
            raise ValueError("not a list of strings")
    except ValueError as exc:
        raise EdgesegError(f"{source} has a damaged {METADATA_KEY} entry ({exc}): re-export it") from None
    return Vocabulary(tuple(tokens))


SHAPES_VOCAB = Vocabulary(SPECIAL + _SHAPES_WORDS)
