"""SELFIES vocabulary: build from data, encode molecules to token ids and decode them back.

>>> vocab = Vocabulary.build([["[C]", "[O]"], ["[C]", "[=C]"]])
>>> vocab.tokens
['<pad>', '<start>', '<end>', '[=C]', '[C]', '[O]']
>>> vocab.decode(vocab.encode(["[C]", "[O]"]))
['[C]', '[O]']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import selfies as sf

from molvae.errors import EncodingError

PAD, START, END = "<pad>", "<start>", "<end>"
SPECIAL = (PAD, START, END)


def smiles_to_symbols(smiles: str) -> list[str] | None:
    """SELFIES symbols of a SMILES string; ``None`` when SELFIES cannot encode it.

    The last 65,536 answers are kept: the ``ga``'s edits write each parent as a random SMILES
    many times over, and in a 3,000-call search 42 % of those strings were ones already
    encoded (the ``selfies`` encoder, pure Python, was a sixth of the search's time).
    """
    symbols = _encoded(smiles)
    return None if symbols is None else list(symbols)


@lru_cache(maxsize=1 << 16)
def _encoded(smiles: str) -> tuple[str, ...] | None:
    try:
        encoded = sf.encoder(smiles)
    except Exception:  # selfies raises EncoderError and, on odd input, other errors
        return None
    if encoded is None:
        return None
    return tuple(sf.split_selfies(encoded))


def symbols_to_smiles(symbols: Sequence[str]) -> str:
    """SMILES string of a SELFIES symbol sequence ('' when the sequence decodes to nothing)."""
    try:
        return sf.decoder("".join(symbols)) or ""
    except Exception:
        return ""


@dataclass(frozen=True)
class Vocabulary:
    """Token list with ``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2, then SELFIES symbols sorted."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:3]) != SPECIAL:
            raise ValueError(f"vocabulary must start with {SPECIAL}")
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]]) -> Vocabulary:
        """Vocabulary of every symbol seen, in sorted (deterministic) order after the specials."""
        seen: set[str] = set()
        for seq in sequences:
            seen.update(seq)
        seen.difference_update(SPECIAL)
        return cls(list(SPECIAL) + sorted(seen))

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def start_id(self) -> int:
        return 1

    @property
    def end_id(self) -> int:
        return 2

    def __len__(self) -> int:
        return len(self.tokens)

    def missing(self, symbols: Sequence[str]) -> list[str]:
        """Symbols of ``symbols`` that the vocabulary lacks, in order of first appearance."""
        out: list[str] = []
        for s in symbols:
            if s not in self.index and s not in out:
                out.append(s)
        return out

    def encode(self, symbols: Sequence[str]) -> list[int]:
        """Token ids of a symbol sequence (no start/end). Raises :class:`EncodingError`."""
        lacking = self.missing(symbols)
        if lacking:
            raise EncodingError(f"the vocabulary lacks the SELFIES tokens {' '.join(lacking)}")
        return [self.index[s] for s in symbols]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols of token ids, stopping at ``<end>`` and skipping ``<pad>``/``<start>``."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.start_id):
                continue
            out.append(self.tokens[i])
        return out

    def atom_mask(self) -> list[bool]:
        """True for tokens that place an atom (not a branch, ring, no-op or special token).

        A SELFIES string that starts with an atom token always decodes to a non-empty molecule.
        """

        def is_atom(tok: str) -> bool:
            return tok not in SPECIAL and "Branch" not in tok and "Ring" not in tok and tok not in ("[nop]", ".", "[.]")

        return [is_atom(t) for t in self.tokens]

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabulary:
        return cls(list(d["tokens"]))
