"""Opaque identifiers: unique, fixed format, unrelated for consecutive rows."""

from __future__ import annotations

import numpy as np

from nenstudy.synth.arrow import opaque_ids, table_key


def test_ids_of_distinct_rows_are_distinct() -> None:
    ids = opaque_ids("NEN-", np.arange(200_000), table_key(1, "patients")).to_pylist()
    assert len(set(ids)) == len(ids)


def test_ids_have_prefix_and_sixteen_hex_digits() -> None:
    ids = opaque_ids("TX-", np.arange(50), table_key(1, "treatments")).to_pylist()
    assert all(len(i) == 19 and i.startswith("TX-") and int(i[3:], 16) >= 0 for i in ids)


def test_consecutive_ids_share_no_common_prefix_beyond_the_label() -> None:
    ids = opaque_ids("NEN-", np.arange(1000), table_key(2, "patients")).to_pylist()
    same_first_digit = sum(a[4] == b[4] for a, b in zip(ids, ids[1:]))
    assert same_first_digit < 150


def test_seed_changes_the_ids() -> None:
    a = opaque_ids("NEN-", np.arange(10), table_key(1, "patients")).to_pylist()
    b = opaque_ids("NEN-", np.arange(10), table_key(2, "patients")).to_pylist()
    assert not set(a) & set(b)
