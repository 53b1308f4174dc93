"""A download's temporary file name, ``.<stem>.<16 hex>.ferry-tmp``: always short enough for the file
system, always read back as the destination it is for, never shared by two destinations."""

import os

from hypothesis import given
from hypothesis import strategies as st

from ferry.storage.local import _temp_base, _temp_stem, is_temp_name

names = st.text(st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]), min_size=1)


@given(names)
def test_a_temporary_name_fits_and_names_its_destination(name):
    stem = _temp_stem(name)
    temp = f".{stem}.0123456789abcdef.ferry-tmp"
    assert len(os.fsencode(stem)) <= 100 and len(os.fsencode(temp)) <= 128
    assert is_temp_name(temp) and _temp_base(temp) == stem
    assert (stem == name) == (len(os.fsencode(name)) <= 100)


@given(names, names, names)
def test_names_alike_at_the_start_get_temporary_names_of_their_own(start, one, two):
    if one != two:
        assert _temp_stem(start * 50 + one) != _temp_stem(start * 50 + two)
