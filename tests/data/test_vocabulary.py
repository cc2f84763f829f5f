import pytest

from molvae.chem.molecules import canonical_smiles
from molvae.data.vocabulary import Vocabulary, smiles_to_symbols, symbols_to_smiles
from molvae.errors import EncodingError
from tests.conftest import moses


def test_round_trip_of_real_molecules():
    smiles = moses(200)
    seqs = [smiles_to_symbols(s) for s in smiles]
    vocab = Vocabulary.build(seqs)
    for smi, seq in zip(smiles, seqs):
        ids = vocab.encode(seq)
        assert all(i >= 3 for i in ids)
        back = symbols_to_smiles(vocab.decode(ids + [vocab.end_id, 0, 0]))
        assert canonical_smiles(back) == canonical_smiles(smi)


def test_build_is_deterministic_and_specials_first():
    seqs = [smiles_to_symbols(s) for s in moses(50)]
    a = Vocabulary.build(seqs)
    b = Vocabulary.build(list(reversed(seqs)))
    assert a.tokens == b.tokens
    assert a.tokens[:3] == ["<pad>", "<start>", "<end>"]
    assert a.tokens[3:] == sorted(a.tokens[3:])
    assert Vocabulary.from_dict(a.to_dict()).tokens == a.tokens


def test_decode_stops_at_end_and_skips_pad():
    vocab = Vocabulary.build([["[C]", "[O]"]])
    c, o = vocab.index["[C]"], vocab.index["[O]"]
    assert vocab.decode([1, c, o, 2, c, c]) == ["[C]", "[O]"]
    assert vocab.decode([c, 0, o]) == ["[C]", "[O]"]


def test_missing_tokens_are_named():
    vocab = Vocabulary.build([["[C]", "[O]"]])
    with pytest.raises(EncodingError, match=r"\[N\] \[Cl\]"):
        vocab.encode(["[C]", "[N]", "[Cl]", "[N]"])


def test_unencodable_smiles_gives_none():
    assert smiles_to_symbols("C1CC") is None  # an unclosed ring: the docstring promises None
    assert symbols_to_smiles([]) == ""


def test_smiles_to_symbols_answers_from_its_cache_with_a_fresh_list():
    first = smiles_to_symbols("CCO")
    assert first == ["[C]", "[C]", "[O]"]
    first.append("[N]")  # a caller that changes its list does not change the next answer
    assert smiles_to_symbols("CCO") == ["[C]", "[C]", "[O]"]
    assert smiles_to_symbols("C1CC") is None and smiles_to_symbols("C1CC") is None  # failures are kept too
