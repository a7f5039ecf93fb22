"""Flattened layouts (rstref.layouts): every size/range/index trio, checked arguments,
refusal of label lists too large for memory, re-exports from the public modules."""

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rstref
from rstref import layouts, limits
from rstref._checks import check_allocation

# (name, sizes for the range, label width)
TRIOS = {
    "lm": ("l_max",),
    "nlm": ("n_max", "l_max"),
    "power_spectrum": ("n_max", "l_max"),
    "power_spectrum_cross": ("n_max", "l_max"),
    "coupling_block": ("l_max",),
}


def _documented(function):
    """The comprehension written after ``::`` in ``function``'s docstring, as source text."""
    doc = function.__doc__
    start = doc.index("[", doc.index("::"))
    return doc[start:doc.index("\n\n", start)].strip()


def _sizes(names, n_max, l_max):
    return {k: {"n_max": n_max, "l_max": l_max}[k] for k in names}


def _index_args(name, label, sizes):
    """``X_index`` arguments: the label, then the sizes it needs."""
    if name == "lm":
        return label
    if name == "coupling_block":
        return (*label, sizes["l_max"])
    return (*label, sizes["n_max"])


@pytest.mark.parametrize("name", sorted(TRIOS))
@pytest.mark.parametrize("n_max, l_max", [(1, 0), (3, 2), (5, 4), (2, 7)])
def test_trio_follows_the_documented_comprehension(name, n_max, l_max):
    size = getattr(layouts, f"{name}_size")
    rng = getattr(layouts, f"{name}_range")
    index = getattr(layouts, f"{name}_index")
    sizes = _sizes(TRIOS[name], n_max, l_max)
    labels = rng(**sizes)
    assert labels == eval(_documented(rng), {"range": range, **sizes})
    assert size(**sizes) == len(labels) == len(set(labels))
    assert [index(*_index_args(name, lab, sizes)) for lab in labels] == list(range(len(labels)))


@pytest.mark.parametrize("n_max, l_max", [(0, 3), (1, 0), (2, 5), (3, 4)])
def test_size_formulas(n_max, l_max):
    assert layouts.lm_size(l_max) == (l_max + 1) ** 2
    assert layouts.nlm_size(n_max, l_max) == n_max * (l_max + 1) ** 2
    assert layouts.power_spectrum_size(n_max, l_max) == (l_max + 1) * n_max * (n_max + 1) // 2
    assert layouts.power_spectrum_cross_size(n_max, l_max) == (l_max + 1) * n_max**2
    assert layouts.coupling_block_size(l_max) == (l_max + 1) ** 3


@pytest.mark.parametrize("l_max", [0, 1, 4])
def test_blocks_are_the_slices_of_one_degree(l_max):
    for l in range(l_max + 1):
        assert list(range(layouts.lm_size(l_max))[layouts.lm_block(l)]) == \
            [layouts.lm_index(l, m) for m in range(-l, l + 1)]
        n_max = 3
        block = range(layouts.nlm_size(n_max, l_max))[layouts.nlm_block(l, n_max)]
        assert list(block) == [layouts.nlm_index(n, l, m, n_max)
                               for n in range(n_max) for m in range(-l, l + 1)]


# ----------------------------------------------------------------------------- bispectrum
def _bispectrum_brute(n_max, l_max, parity):
    def parity_ok(s):
        return parity == "all" or (parity == "even") == (s % 2 == 0)

    return eval(_documented(layouts.bispectrum_range),
                {"range": range, "min": min, "parity_ok": parity_ok, "n_max": n_max, "l_max": l_max})


@given(st.integers(0, 5), st.integers(0, 6), st.sampled_from(layouts.BISPECTRUM_PARITIES))
def test_bispectrum_trio(n_max, l_max, parity):
    labels = layouts.bispectrum_range(n_max, l_max, parity)
    assert labels == _bispectrum_brute(n_max, l_max, parity)
    assert layouts.bispectrum_size(n_max, l_max, parity) == len(labels)
    assert [layouts.bispectrum_index(*lab, n_max, l_max, parity) for lab in labels] == \
        list(range(len(labels)))


def _bispectrum_size_by_combinatorics(n_max, l_max, parity):
    """Independent count: each (l1 <= l2 <= l3) block holds the sorted radial triples."""
    N, total = n_max, 0
    for l1, l2, l3 in itertools.combinations_with_replacement(range(l_max + 1), 3):
        if l3 > l1 + l2:
            continue
        odd = (l1 + l2 + l3) % 2 == 1
        if (parity == "even" and odd) or (parity == "odd" and not odd):
            continue
        equal = (l1 == l2) + (l2 == l3)
        if equal == 2:
            total += math.comb(N, 3) if odd else math.comb(N + 2, 3)
        elif equal == 1:
            total += N * (math.comb(N, 2) if odd else math.comb(N + 1, 2))
        else:
            total += N**3
    return total


@pytest.mark.parametrize("parity", layouts.BISPECTRUM_PARITIES)
def test_bispectrum_size_for_huge_n_max_is_counted_not_built(parity):
    t0 = time.perf_counter()
    size = layouts.bispectrum_size(10**5, 6, parity)
    assert time.perf_counter() - t0 < 1.0
    assert size == _bispectrum_size_by_combinatorics(10**5, 6, parity)
    assert size > 10**15
    with pytest.raises(ValueError, match=rf"bispectrum_range\(n_max=100000, l_max=6\).*{size}"):
        layouts.bispectrum_range(10**5, 6, parity)
    last = layouts.bispectrum_range(3, 6, parity)[-1]
    assert layouts.bispectrum_index(*last, 3, 6, parity) == layouts.bispectrum_size(3, 6, parity) - 1


@pytest.mark.parametrize("label, parity", [
    ((0, 2, 0, 1, 0, 2), "all"),   # blocks not sorted by l
    ((1, 1, 0, 1, 0, 2), "all"),   # n2 < n1 inside l1 == l2
    ((0, 0, 0, 1, 0, 2), "all"),   # triangle rule: l3 > l1 + l2
    ((0, 1, 0, 1, 0, 1), "all"),   # odd sum with two equal blocks
    ((0, 0, 0, 1, 0, 1), "odd"),   # even sum filtered out
    ((0, 1, 1, 1, 2, 1), "even"),  # odd sum filtered out
    ((0, 0, 0, 0, 3, 0), "all"),   # n3 >= n_max
    ((0, 0, 0, 0, 0, 3), "all"),   # l3 > l_max
])
def test_bispectrum_index_rejects_labels_outside_the_layout(label, parity):
    with pytest.raises(ValueError):
        layouts.bispectrum_index(*label, 3, 2, parity)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call", [
    lambda: layouts.power_spectrum_size(-3, 2),
    lambda: layouts.nlm_size(-1, 2),
    lambda: layouts.bispectrum_range(-1, 3),
    lambda: layouts.bispectrum_size(2, -1),
    lambda: layouts.bispectrum_size(2, limits.BISPECTRUM_L_MAX + 1),
    lambda: layouts.lm_size(-1),
    lambda: layouts.lm_range(-2),
    lambda: layouts.lm_index(2, 3),
    lambda: layouts.lm_index(-1, 0),
    lambda: layouts.lm_block(-1),
    lambda: layouts.nlm_index(2, 0, 0, 2),
    lambda: layouts.nlm_index(0, 1, -2, 2),
    lambda: layouts.power_spectrum_index(0, 3, 2, 5),
    lambda: layouts.power_spectrum_index(0, 0, 5, 5),
    lambda: layouts.power_spectrum_cross_index(0, 0, 5, 5),
    lambda: layouts.power_spectrum_cross_index(-1, 0, 0, 5),
    lambda: layouts.coupling_block_index(0, 0, 4, 3),
    lambda: layouts.coupling_block_range(-1),
])
def test_out_of_range_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: layouts.power_spectrum_index(1, 0.5, 1, 3), "n"),
    (lambda: layouts.lm_size(2.0), "l_max"),
    (lambda: layouts.nlm_size(True, 2), "n_max"),
    (lambda: layouts.lm_index(1, "0"), "m"),
    (lambda: layouts.bispectrum_size(3, 2.5), "l_max"),
    (lambda: layouts.bispectrum_index(0, 0, 0, 0, 0, 0, 1, 0, parity=None), "parity"),
    (lambda: layouts.nlm_range(np.float64(2), 1), "n_max"),
])
def test_non_integers_raise_type_error_naming_the_argument(call, name):
    with pytest.raises((TypeError, ValueError), match=name) as info:
        call()
    if name != "parity":
        assert info.type is TypeError


def test_numpy_integers_are_accepted_and_give_python_ints():
    i = layouts.power_spectrum_index(np.int64(1), np.int32(0), np.uint8(1), np.int64(3))
    assert i == layouts.power_spectrum_index(1, 0, 1, 3) and type(i) is int


# ----------------------------------------------------------------------------- memory
def test_every_range_refuses_above_the_allocation_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 10_000)
    for call in (lambda: layouts.lm_range(30), lambda: layouts.nlm_range(5, 10),
                 lambda: layouts.power_spectrum_range(20, 10),
                 lambda: layouts.power_spectrum_cross_range(20, 10),
                 lambda: layouts.bispectrum_range(4, 4), lambda: layouts.coupling_block_range(10)):
        with pytest.raises(ValueError, match="MAX_ALLOCATION_BYTES") as info:
            call()
        assert "labels" in str(info.value) and "_size" in str(info.value)
    assert layouts.lm_range(2) == [(0, 0), (1, -1), (1, 0), (1, 1), (2, -2), (2, -1), (2, 0),
                                   (2, 1), (2, 2)]


def test_check_allocation_message_names_size_and_remedy(monkeypatch):
    check_allocation(limits.MAX_ALLOCATION_BYTES, "fits", "nothing")
    with pytest.raises(ValueError, match=r"thing\(n=5\) needs about 2\.5 TB.*; use less"):
        check_allocation(2.5e12, "thing(n=5)", "use less")
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 2**40)
    check_allocation(2.5e11, "thing", "use less")


# ----------------------------------------------------------------------------- re-exports
def test_public_modules_re_export_the_one_definition():
    from rstref import harmonics, invariants, tensor

    for module, names in ((harmonics, ("lm_size", "lm_range", "lm_index", "lm_block")),
                          (tensor, ("nlm_size", "nlm_range", "nlm_index")),
                          (invariants, ("power_spectrum_size", "power_spectrum_range",
                                        "power_spectrum_index", "power_spectrum_cross_size",
                                        "power_spectrum_cross_range", "power_spectrum_cross_index",
                                        "bispectrum_size", "bispectrum_range", "bispectrum_index"))):
        for name in names:
            assert getattr(module, name) is getattr(layouts, name), name
    for name in ("lm_index", "lm_size", "lm_range", "lm_block", "nlm_index", "nlm_size",
                 "nlm_range", "nlm_block", "power_spectrum_size", "power_spectrum_range",
                 "power_spectrum_index", "bispectrum_size", "bispectrum_range", "bispectrum_index"):
        assert getattr(rstref, name) is getattr(layouts, name), name


def test_coupling_table_blocks_follow_the_layout():
    from rstref.coupling import load_table

    table = load_table()
    l_max = table.l_max
    for b, (l1, l2, L) in enumerate(layouts.coupling_block_range(l_max)):
        assert table.block_index(l1, l2, L) == b == layouts.coupling_block_index(l1, l2, L, l_max)
        block = table.block_slice(l1, l2, L)
        assert (block.start, block.stop) == table.block_range(l1, l2, L)
        assert block.stop - block.start == (table.block_offsets[b + 1] - table.block_offsets[b])
    assert layouts.coupling_block_size(l_max) + 1 == table.block_offsets.shape[0]


def test_kernel_twins_agree_with_the_checked_helpers():
    from rstref._kernels import layout as k

    n_max, l_max = 4, 5
    for n, l, m in layouts.nlm_range(n_max, l_max):
        assert k.nlm_index(n_max, n, l, m) == layouts.nlm_index(n, l, m, n_max)
        assert k.lm_index(l, m) == layouts.lm_index(l, m)
    for l, n, n2 in layouts.power_spectrum_range(n_max, 0):
        assert k.pair_index(n_max, n, n2) == layouts.power_spectrum_index(0, n, n2, n_max)
    for l1, l2, L in layouts.coupling_block_range(3):
        assert k.coupling_block_index(l1, l2, L, 3) == layouts.coupling_block_index(l1, l2, L, 3)
