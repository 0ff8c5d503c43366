"""Issue 34, item 12: instruction values are normalised to the data's spelling."""

from __future__ import annotations

import pytest

from engine.core.instructions import Instruction, satisfies


@pytest.mark.parametrize("given, want", [(" rock ", "rock"), ("ROCK", "rock"), ("R&B/Soul", "r&b/soul"),
                                         ("Hip-Hop", "hip-hop")])
def test_genre_values_are_stripped_and_lower_cased(given, want):
    assert Instruction(genres={given}).genres == {want}


def test_language_codes_and_other_atoms_are_normalised():
    ins = Instruction(languages="EN", popularity={" Head"}, eras={"80S "})
    assert (ins.languages, ins.popularity, ins.eras) == ({"en"}, {"head"}, {"80s"})


def test_normalised_instruction_selects_the_data_values(tiny_dataset):
    got = satisfies(tiny_dataset.items, Instruction(genres={" JAZZ "}, languages={"En"}))
    assert got.sum() > 0 and (tiny_dataset.items["genre"][got] == "jazz").all()


def test_round_trip_and_blocked_items_untouched():
    ins = Instruction(genres={"Pop"}, blocked_items={3, 5})
    assert Instruction.from_dict(ins.to_dict()) == ins and ins.blocked_items == {3, 5}
