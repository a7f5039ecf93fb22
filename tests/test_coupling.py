"""Tests of the real Clebsch-Gordan table, Wigner 3j, Gaunt coefficients and coupling kernels.

Oracles: the exact sympy derivation (regenerated here), identities (orthonormality,
selection rules, permutation symmetry, equivariance with the independently built
Wigner D of rstref.rotations), quadrature of three real spherical harmonics, sympy's
``real_gaunt`` and exact ``<l1 0 l2 0|L 0>`` from sympy.
"""

import functools
import io
import math
import os
import zipfile

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import rstref
from rstref import coupling
from rstref.coupling import CouplingTable, CouplingTableError, clebsch_gordan, gaunt, load_table, wigner_3j
from rstref.tables import generate
from rstref.tables._format import ALL_KEYS, content_digest, write_npz_deterministic
from rstref.tolerances import GAUNT_QUADRATURE_ATOL, identity_atol

from conftest import thorough

L_SHIPPED = 10
L_EQUIVARIANCE = 10 if thorough() else 6


def triples(l_max):
    """All triangle-allowed (l1, l2, L) with every degree <= l_max."""
    n = l_max + 1
    return [(a, b, c) for a in range(n) for b in range(n) for c in range(abs(a - b), min(a + b, l_max) + 1)]


@pytest.fixture(scope="module")
def table():
    return load_table()


def shipped_arrays():
    with np.load(coupling.shipped_table_path(), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# ----------------------------------------------------------------------- regeneration


def test_shipped_table_metadata(table):
    assert table.l_max == L_SHIPPED
    assert len(table.generator_sha256) == 64 and len(table.content_sha256) == 64
    assert table.sympy_version.count(".") >= 1
    n_blocks = sum(1 for t in triples(L_SHIPPED) if max(t) <= L_SHIPPED)
    assert n_blocks == 671
    assert table.size == table.values.size == table.m1_index.size


def test_shipped_table_passes_full_structure_check(table):
    # the shipped bytes have the pinned hash and pass the full structural scan run on every load
    arrays = shipped_arrays()
    assert bytes(content_digest(arrays)).hex() == coupling.SHIPPED_CONTENT_SHA256 == table.content_sha256
    coupling._check_structure(arrays, "shipped", table.l_max)


def test_regenerated_small_table_is_identical(table):
    small = generate.build_table(2)
    n = 3
    for l1, l2, L in triples(2):
        b_small = (l1 * n + l2) * n + L
        s = slice(small["block_offsets"][b_small], small["block_offsets"][b_small + 1])
        start, stop = table.block_range(l1, l2, L)
        for key in ("m1_index", "m2_index", "M_index", "values"):
            np.testing.assert_array_equal(small[key][s], getattr(table, key)[start:stop])
            assert stop - start > 0


def test_regenerated_block_345_is_identical(table):
    m1, m2, M, values = generate.real_block(3, 4, 5)
    start, stop = table.block_range(3, 4, 5)
    np.testing.assert_array_equal(m1, table.m1_index[start:stop])
    np.testing.assert_array_equal(m2, table.m2_index[start:stop])
    np.testing.assert_array_equal(M, table.M_index[start:stop])
    assert values.tobytes() == table.values[start:stop].tobytes()


def test_generated_file_is_deterministic_and_atomic(tmp_path):
    a = tmp_path / "a.npz"
    b = tmp_path / "b.npz"
    ta = coupling.generate_table(1, a)
    coupling.generate_table(1, b, workers=1)
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]  # no temp files left
    assert isinstance(ta, CouplingTable) and ta.l_max == 1
    np.testing.assert_array_equal(ta.dense(1, 1, 1), clebsch_gordan(1, 1, 1))


def test_failed_write_leaves_existing_file_untouched(tmp_path):
    target = tmp_path / "t.npz"
    target.write_bytes(b"previous contents")
    broken = {k: np.zeros(1) for k in ALL_KEYS[:-1]}  # content_sha256 missing -> KeyError mid-write
    with pytest.raises(KeyError):
        write_npz_deterministic(broken, target)
    assert target.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]


def test_exact_imaginary_part_check_catches_a_wrong_phase(monkeypatch):
    # without the phase i**(l1+l2-L) an odd block (cross product) is purely imaginary
    import sympy as sp

    monkeypatch.setattr(generate, "block_phase", lambda l1, l2, L: sp.Integer(1))
    assert generate.exact_real_block(2, 2, 2)  # even blocks are real either way
    with pytest.raises(ArithmeticError, match="not real"):
        generate.exact_real_block(1, 1, 1)


def test_nothing_written_on_use(table):
    tables_dir = os.path.dirname(coupling.shipped_table_path())
    before = sorted(os.listdir(tables_dir))
    clebsch_gordan(2, 3, 4)
    gaunt(2, 2, 2)
    load_table()
    assert sorted(os.listdir(tables_dir)) == before


# ----------------------------------------------------------------------- identities


def test_orthonormal_in_m1_m2(table):
    for l1, l2, L in triples(L_SHIPPED):
        C = clebsch_gordan(l1, l2, L).reshape(-1, 2 * L + 1)
        err = np.abs(C.T @ C - np.eye(2 * L + 1)).max()
        assert err <= identity_atol(l=max(l1, l2, L)), (l1, l2, L, err)


def test_orthonormal_in_L_M(table):
    # for l1 + l2 <= 10 every coupled L is in the table: the full change of basis is orthogonal
    for l1 in range(L_SHIPPED + 1):
        for l2 in range(L_SHIPPED + 1 - l1):
            blocks = [clebsch_gordan(l1, l2, L).reshape(-1, 2 * L + 1) for L in range(abs(l1 - l2), l1 + l2 + 1)]
            Q = np.concatenate(blocks, axis=1)
            assert Q.shape[0] == Q.shape[1]
            err = np.abs(Q @ Q.T - np.eye(Q.shape[0])).max()
            assert err <= identity_atol(l=l1 + l2), (l1, l2, err)


def test_selection_rules_exact_zeros(table):
    for l1, l2, L in triples(L_SHIPPED):
        C = clebsch_gordan(l1, l2, L)
        m1, m2, M = np.meshgrid(np.arange(-l1, l1 + 1), np.arange(-l2, l2 + 1), np.arange(-L, L + 1), indexing="ij")
        # |M| = |m1 +- m2| (z rotations); rotation by pi about z: (-1)^(m1+m2+M) = 1;
        # rotation by pi about x: (-1)^(l1+l2+L) s(m1) s(m2) s(M) = 1 with s(m<0) = -1
        s = lambda m: np.where(m < 0, -1, 1)  # noqa: E731
        allowed = (np.abs(M) == np.abs(m1 + m2)) | (np.abs(M) == np.abs(m1 - m2))
        allowed &= (m1 + m2 + M) % 2 == 0
        allowed &= (-1) ** (l1 + l2 + L) * s(m1) * s(m2) * s(M) == 1
        assert np.all(C[~allowed] == 0.0), (l1, l2, L)
        assert np.count_nonzero(C) > 0
        if (l1 + l2 + L) % 2:
            assert C[l1, l2, L] == 0.0


def test_triangle_violations_raise():
    with pytest.raises(ValueError, match="triangle"):
        clebsch_gordan(1, 1, 3)
    with pytest.raises(ValueError, match="triangle"):
        wigner_3j(0, 2, 1)
    with pytest.raises(ValueError, match="triangle"):
        gaunt(5, 1, 3)


def test_permutation_symmetry(table):
    for l1, l2, L in triples(L_SHIPPED):
        C12 = clebsch_gordan(l1, l2, L)
        C21 = clebsch_gordan(l2, l1, L)
        np.testing.assert_array_equal(C21, (-1) ** (l1 + l2 - L) * C12.transpose(1, 0, 2))


def test_known_small_blocks():
    # C^{l 0 l} and C^{0 l l} are identities (<l m 0 0|l m> = 1, phase i^0)
    for l in range(L_SHIPPED + 1):
        np.testing.assert_array_equal(clebsch_gordan(l, 0, l)[:, 0, :], np.eye(2 * l + 1))
        np.testing.assert_array_equal(clebsch_gordan(0, l, l)[0], np.eye(2 * l + 1))
    # l = 1 in the order (y, z, x): C^{110} = delta / sqrt(3) (dot product), C^{111} = Levi-Civita / sqrt(2)
    # (cross product; (y, z, x) is a cyclic relabelling of (x, y, z)), e3nn's w3j(1,1,1) = eps / sqrt(6)
    np.testing.assert_allclose(clebsch_gordan(1, 1, 0)[:, :, 0], np.eye(3) / math.sqrt(3), rtol=0, atol=identity_atol())
    eps = np.zeros((3, 3, 3))
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[i, j, k], eps[j, i, k] = 1.0, -1.0
    np.testing.assert_allclose(clebsch_gordan(1, 1, 1), eps / math.sqrt(2), rtol=0, atol=identity_atol())
    np.testing.assert_allclose(wigner_3j(1, 1, 1), eps / math.sqrt(6), rtol=0, atol=identity_atol())


def test_wigner_3j_normalisation():
    for l1, l2, l3 in triples(L_SHIPPED):
        W = wigner_3j(l1, l2, l3)
        assert abs(np.linalg.norm(W) - 1.0) <= identity_atol(l=max(l1, l2, l3))
        np.testing.assert_array_equal(W, clebsch_gordan(l1, l2, l3) / math.sqrt(2 * l3 + 1))


rotations = st.integers(0, 2**32 - 1).map(lambda seed: rstref.random_rotation(seed))


@given(R=rotations, convention=st.sampled_from(["standard", "e3nn"]))
def test_equivariance(R, convention):
    from rstref.rotations import wigner_D_blocks

    D = wigner_D_blocks(L_EQUIVARIANCE, R, convention)
    for l1, l2, L in triples(L_EQUIVARIANCE):
        C = clebsch_gordan(l1, l2, L)
        lhs = np.einsum("ijM,ia,jb->abM", C, D[l1], D[l2], optimize=True)
        rhs = np.einsum("MK,abK->abM", D[L], C, optimize=True)
        err = np.abs(lhs - rhs).max()
        assert err <= identity_atol(l=max(l1, l2, L)), (l1, l2, L, err)


# ----------------------------------------------------------------------- Gaunt


def sphere_quadrature(degree):
    """Nodes (n, 3) and weights (n,) exact for polynomials of total degree <= degree on S^2."""
    n_theta = degree // 2 + 1
    n_phi = degree + 1
    x, w = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    ct, ph = np.meshgrid(x, phi, indexing="ij")
    st_ = np.sqrt(1 - ct**2)
    nodes = np.stack([st_ * np.cos(ph), st_ * np.sin(ph), ct], axis=-1).reshape(-1, 3)
    weights = np.repeat(w * 2 * np.pi / n_phi, n_phi)
    return nodes, weights


def test_gaunt_against_quadrature():
    l_max = 10 if thorough() else 6
    nodes, weights = sphere_quadrature(3 * l_max)
    Y = rstref.spherical_harmonics(nodes, l_max)  # 'integral', standard
    blocks = [Y[:, l * l : (l + 1) ** 2] for l in range(l_max + 1)]
    for l1, l2, l3 in triples(l_max):
        ref = np.einsum("n,na,nb,nc->abc", weights, blocks[l1], blocks[l2], blocks[l3], optimize=True)
        err = np.abs(gaunt(l1, l2, l3) - ref).max()
        assert err <= GAUNT_QUADRATURE_ATOL, (l1, l2, l3, err)


def test_c000_is_abs_cg000_and_gaunt_is_symmetric():
    # C^{l1 l2 L}[0, 0, 0] = i^(l1+l2-L) <l1 0 l2 0|L 0> = |<l1 0 l2 0|L 0>| for even l1+l2+L
    for l1, l2, L in triples(L_SHIPPED):
        C = clebsch_gordan(l1, l2, L)
        if (l1 + l2 + L) % 2 == 0:
            assert abs(C[l1, l2, L] - abs_cg000(l1, l2, L)) <= 2 * np.spacing(1.0)
            assert C[l1, l2, L] > 0
    for l1, l2, l3 in triples(6):
        G = gaunt(l1, l2, l3)
        atol = identity_atol(scale=0.1, l=max(l1, l2, l3))
        np.testing.assert_allclose(gaunt(l2, l1, l3), G.transpose(1, 0, 2), rtol=0, atol=atol)
        np.testing.assert_allclose(gaunt(l3, l2, l1), G.transpose(2, 1, 0), rtol=0, atol=atol)
        np.testing.assert_allclose(gaunt(l2, l3, l1), G.transpose(1, 2, 0), rtol=0, atol=atol)


def test_gaunt_sample_up_to_10_against_quadrature():
    nodes, weights = sphere_quadrature(30)
    Y = rstref.spherical_harmonics(nodes, 10)
    for l1, l2, l3 in [(10, 10, 10), (10, 9, 7), (8, 10, 4), (10, 10, 0), (7, 5, 10)]:
        ref = np.einsum(
            "n,na,nb,nc->abc", weights, Y[:, l1 * l1 : (l1 + 1) ** 2], Y[:, l2 * l2 : (l2 + 1) ** 2],
            Y[:, l3 * l3 : (l3 + 1) ** 2], optimize=True,
        )
        assert np.abs(gaunt(l1, l2, l3) - ref).max() <= GAUNT_QUADRATURE_ATOL


def test_gaunt_against_sympy_real_gaunt():
    from sympy.physics.wigner import real_gaunt

    rng = np.random.default_rng(4)
    checked = 0
    for l1, l2, l3 in [(1, 1, 2), (2, 2, 2), (2, 3, 3), (3, 4, 5), (4, 4, 6), (5, 3, 4), (6, 6, 2)]:
        G = gaunt(l1, l2, l3)
        picks = list(zip(*np.nonzero(G)))
        zeros = list(zip(*np.nonzero(G == 0)))
        sample = [picks[i] for i in rng.choice(len(picks), size=min(6, len(picks)), replace=False)]
        sample += [zeros[i] for i in rng.choice(len(zeros), size=min(2, len(zeros)), replace=False)]
        for i, j, k in sample:
            ref = float(real_gaunt(l1, l2, l3, i - l1, j - l2, k - l3))
            assert abs(G[i, j, k] - ref) <= GAUNT_QUADRATURE_ATOL, (l1, l2, l3, i, j, k)
            checked += 1
    assert checked > 40


def test_sympy_real_harmonic_conventions():
    """sympy's ``Znm`` = (-1)^m Y_lm for m >= 0 and -Y_lm for m < 0 (rstref's Y_lm).

    ``real_gaunt`` documents yet another basis, (-1)^m Y_lm for every m; with it, the
    real Gaunt coefficients equal rstref's because m1 + m2 + m3 is even whenever a
    coefficient is non-zero.  A Znm-based integral would differ in sign where the
    negative m's have odd sum, e.g. (l, m) = (1, -1), (2, -2), (3, 3): real_gaunt
    agrees with rstref there, so it does not use Znm's signs.
    """
    import sympy as sp
    from sympy.physics.wigner import real_gaunt

    theta, phi = 0.7, 2.1
    xyz = np.array([[math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)]])
    Y = rstref.spherical_harmonics(xyz, 4)[0]
    for l in range(5):
        for m in range(-l, l + 1):
            z = complex(sp.Znm(l, m, theta, phi).expand(func=True).evalf(30))
            sign = (-1) ** m if m >= 0 else -1
            assert abs(z.imag) < 1e-14
            assert abs(z.real - sign * Y[l * l + l + m]) < 1e-14
    g = gaunt(1, 2, 3)[1 - 1, 2 - 2, 3 + 3]
    assert abs(g) > 0.2
    assert abs(float(real_gaunt(1, 2, 3, -1, -2, 3)) - g) <= GAUNT_QUADRATURE_ATOL


@functools.lru_cache(maxsize=None)
def abs_cg000(l1, l2, L):
    """|<l1 0 l2 0|L 0>| exactly from sympy, rounded to float64."""
    from sympy.physics.wigner import clebsch_gordan as cg

    return abs(float(cg(l1, l2, L, 0, 0, 0).evalf(30)))


@given(
    xyz=st.tuples(*[st.floats(-1, 1, allow_nan=False) for _ in range(3)]).filter(
        lambda v: sum(c * c for c in v) > 1e-2
    )
)
def test_coupled_harmonics_are_harmonics(xyz):
    """sum C[m1,m2,M] Y_l1m1(r) Y_l2m2(r) = sqrt((2l1+1)(2l2+1)/(4pi(2L+1))) |<l1 0 l2 0|L 0>| Y_LM(r)."""
    l_max = L_EQUIVARIANCE
    Y = rstref.spherical_harmonics(np.array([xyz]), l_max)[0]
    block = lambda l: Y[l * l : (l + 1) ** 2]  # noqa: E731
    for l1, l2, L in triples(l_max):
        coupled = np.einsum("ijM,i,j->M", clebsch_gordan(l1, l2, L), block(l1), block(l2))
        c000 = abs_cg000(l1, l2, L)
        expected = math.sqrt((2 * l1 + 1) * (2 * l2 + 1) / (4 * math.pi * (2 * L + 1))) * c000 * block(L)
        assert np.abs(coupled - expected).max() <= identity_atol(l=max(l1, l2, L)), (l1, l2, L)


# ----------------------------------------------------------------------- kernels


@given(
    data=st.data(),
    triple=st.sampled_from(triples(L_SHIPPED)),
)
def test_kernels_match_dense_contractions(data, triple, table):
    from rstref._kernels.coupling import cg_contract, cg_couple, cg_couple_first, cg_couple_second

    l1, l2, L = triple
    seed = data.draw(st.integers(0, 2**32 - 1))
    a0, b0, c0 = (data.draw(st.integers(0, 5)) for _ in range(3))
    rng = np.random.default_rng(seed)
    a, b, c = (rng.normal(size=2 * l + 1 + 6) for l in (l1, l2, L))
    A, B, Cv = a[a0 : a0 + 2 * l1 + 1], b[b0 : b0 + 2 * l2 + 1], c[c0 : c0 + 2 * L + 1]
    C = clebsch_gordan(l1, l2, L)
    ka = table.kernel_arrays()
    atol = identity_atol(scale=10.0, l=max(triple))

    out = np.full(2 * L + 1 + 6, 0.5)
    cg_couple(l1, l2, L, a, a0, b, b0, out, c0, *ka)
    expected = np.full_like(out, 0.5)
    expected[c0 : c0 + 2 * L + 1] += np.einsum("ijk,i,j->k", C, A, B)
    assert np.abs(out - expected).max() <= atol

    assert abs(cg_contract(l1, l2, L, a, a0, b, b0, c, c0, *ka) - np.einsum("ijk,i,j,k", C, A, B, Cv)) <= atol

    g1 = np.zeros(2 * l1 + 1 + 6)
    cg_couple_first(l1, l2, L, b, b0, c, c0, g1, a0, *ka)
    assert np.abs(g1[a0 : a0 + 2 * l1 + 1] - np.einsum("ijk,j,k->i", C, B, Cv)).max() <= atol
    assert np.count_nonzero(np.delete(g1, np.arange(a0, a0 + 2 * l1 + 1))) == 0

    g2 = np.zeros(2 * l2 + 1 + 6)
    cg_couple_second(l1, l2, L, a, a0, c, c0, g2, b0, *ka)
    assert np.abs(g2[b0 : b0 + 2 * l2 + 1] - np.einsum("ijk,i,k->j", C, A, Cv)).max() <= atol


# ----------------------------------------------------------------------- loader safety


def test_arrays_read_only_and_cached(table):
    assert load_table() is table
    for arr in (table.block_offsets, table.m1_index, table.m2_index, table.M_index, table.values):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        table.values[0] = 1.0
    C = clebsch_gordan(2, 2, 2)
    C[:] = 7.0  # a copy: the table is unaffected
    assert np.abs(clebsch_gordan(2, 2, 2)).max() < 1


def test_allow_pickle_false_is_used(monkeypatch):
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    coupling._cache.clear()
    try:
        load_table()
    finally:
        coupling._cache.clear()
    assert seen == [False]


def write_members(path, arrays, allow_pickle=False):
    with zipfile.ZipFile(path, "w") as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
            zf.writestr(key + ".npy", buf.getvalue())


def rehash(arrays):
    arrays = dict(arrays)
    arrays["content_sha256"] = content_digest(arrays)
    return arrays


def open_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def expect_table_error(path, match):
    with pytest.raises(CouplingTableError, match=match):
        load_table(path)


def test_object_array_is_rejected(tmp_path):
    arrays = shipped_arrays()
    arrays["values"] = np.array([object()] * 3, dtype=object)
    write_members(tmp_path / "obj.npz", arrays, allow_pickle=True)
    expect_table_error(tmp_path / "obj.npz", "Object arrays|dtype")


def test_truncated_file_is_rejected(tmp_path):
    data = open_bytes(coupling.shipped_table_path())
    for n in (0, 10, len(data) // 2, len(data) - 30):
        p = tmp_path / f"trunc{n}.npz"
        p.write_bytes(data[:n])
        expect_table_error(p, "not a valid")


def test_corrupted_bytes_are_rejected(tmp_path):
    data = bytearray(open_bytes(coupling.shipped_table_path()))
    for pos in (len(data) // 3, len(data) // 2, 2 * len(data) // 3):
        bad = bytearray(data)
        bad[pos] ^= 0x55
        p = tmp_path / f"flip{pos}.npz"
        p.write_bytes(bytes(bad))
        expect_table_error(p, "not a valid")


def test_every_single_byte_corruption_errors_or_changes_nothing(tmp_path):
    """Flip each byte of a small table: the load either fails clearly or gives identical arrays."""
    path = tmp_path / "small.npz"
    small = coupling.generate_table(1, path)
    keys = ("block_offsets", "m1_index", "m2_index", "M_index", "values")
    data = path.read_bytes()
    errors = 0
    for pos in range(len(data)):
        bad = bytearray(data)
        bad[pos] ^= 0xA5
        p = tmp_path / f"flip{pos}.npz"
        p.write_bytes(bytes(bad))
        try:
            loaded = load_table(p)
        except CouplingTableError:
            errors += 1
        else:  # a byte outside the data (zip timestamps, padding) may change harmlessly
            for key in keys:
                np.testing.assert_array_equal(getattr(loaded, key), getattr(small, key))
        p.unlink()
    assert errors > len(data) // 2  # most bytes are data or checksums


def test_foreign_files_are_rejected(tmp_path):
    np.savez(tmp_path / "foreign.npz", x=np.arange(3))
    expect_table_error(tmp_path / "foreign.npz", "missing arrays")
    (tmp_path / "text.npz").write_text("hello")
    expect_table_error(tmp_path / "text.npz", "not a valid")
    arrays = shipped_arrays()
    arrays["extra"] = np.zeros(2)
    write_members(tmp_path / "extra.npz", arrays)
    expect_table_error(tmp_path / "extra.npz", "unexpected arrays")
    with pytest.raises(FileNotFoundError, match="generate_table"):
        load_table(tmp_path / "absent.npz")


def test_wrong_version_dtype_shape_and_content(tmp_path):
    base = shipped_arrays()

    arrays = rehash({**base, "format_version": np.array(2, dtype=np.int64)})
    write_members(tmp_path / "v2.npz", arrays)
    expect_table_error(tmp_path / "v2.npz", "format version 2")

    arrays = rehash({**base, "values": base["values"].astype(np.float32)})
    write_members(tmp_path / "f32.npz", arrays)
    expect_table_error(tmp_path / "f32.npz", "dtype")

    arrays = {**base, "values": base["values"][:-5]}
    arrays = rehash(arrays)
    write_members(tmp_path / "short.npz", arrays)
    expect_table_error(tmp_path / "short.npz", "shape")

    arrays = rehash({**base, "block_offsets": base["block_offsets"][:-1]})
    write_members(tmp_path / "offsets.npz", arrays)
    expect_table_error(tmp_path / "offsets.npz", "block_offsets has shape")

    edited = base["values"].copy()
    edited[100] *= -1
    write_members(tmp_path / "edited.npz", {**base, "values": edited})
    expect_table_error(tmp_path / "edited.npz", "content_sha256")

    # an edit that also fixes the hash but breaks the structure (a forbidden M) is caught
    moved = base["M_index"].copy()
    start, stop = load_table().block_range(3, 4, 5)
    moved[start] = (moved[start] + 1) % 11
    write_members(tmp_path / "moved.npz", rehash({**base, "M_index": moved}))
    expect_table_error(tmp_path / "moved.npz", "selection rule|sorted")

    write_members(tmp_path / "ok.npz", base)  # the untouched arrays in a different zip layout load fine
    ok = load_table(tmp_path / "ok.npz")
    np.testing.assert_array_equal(ok.dense(3, 4, 5), clebsch_gordan(3, 4, 5))


def test_beyond_shipped_l_max_explains_generation(tmp_path):
    with pytest.raises(ValueError, match=r"l_max = 10.*generate_table.*load_table"):
        clebsch_gordan(11, 1, 10)
    small = coupling.generate_table(2, tmp_path / "cg2.npz")
    np.testing.assert_array_equal(clebsch_gordan(2, 1, 2, table=small), clebsch_gordan(2, 1, 2))
    with pytest.raises(ValueError, match="l_max = 2"):
        gaunt(3, 1, 2, table=small)
    with pytest.raises(TypeError, match="path"):
        coupling.generate_table(2, None)
    with pytest.raises(TypeError, match="table"):
        clebsch_gordan(1, 1, 1, table="cg2.npz")


@pytest.mark.parametrize("bad", [-1, 1.0, True, "2", None])
def test_bad_degrees(bad):
    with pytest.raises((TypeError, ValueError), match="l1"):
        clebsch_gordan(bad, 1, 1)
    with pytest.raises((TypeError, ValueError), match="l3"):
        wigner_3j(1, 1, bad)


def test_kernels_compile_to_ptx(ptx_compiler):
    """The coupling kernels are CUDA-callable: a @cuda.jit kernel calling all four compiles for sm_90."""
    from numba import cuda

    from rstref._kernels.coupling import cg_contract, cg_couple, cg_couple_first, cg_couple_second

    def kernel(l1, l2, L, a, b, out, offsets, m1, m2, M, values, l_max):
        i = cuda.grid(1)
        n1, n2, n3 = 2 * l1 + 1, 2 * l2 + 1, 2 * L + 1
        if i < a.shape[0] // n1:
            cg_couple(l1, l2, L, a, i * n1, b, i * n2, out, i * n3, offsets, m1, m2, M, values, l_max)
            s = cg_contract(l1, l2, L, a, i * n1, b, i * n2, out, i * n3, offsets, m1, m2, M, values, l_max)
            cg_couple_first(l1, l2, L, b, i * n2, out, i * n3, a, i * n1, offsets, m1, m2, M, values, l_max)
            cg_couple_second(l1, l2, L, a, i * n1, out, i * n3, b, i * n2, offsets, m1, m2, M, values, l_max)
            out[i * n3] += s

    from numba.cuda import types as t

    f, i32, i64 = t.float64[::1], t.int32[::1], t.int64
    ptx = ptx_compiler(kernel, (i64, i64, i64, f, f, f, t.int64[::1], i32, i32, i32, f, i64))
    assert ".entry" in ptx


# ----------------------------------------------------------------------- hostile files


def load_in_thread(path, timeout=10.0):
    """``load_table(path)`` in a thread; returns the exception it raised (fails if it blocks)."""
    import threading

    result = {}

    def target():
        try:
            result["table"] = load_table(path)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():  # unblock a reader stuck on a FIFO, then fail
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
        pytest.fail(f"load_table({path}) blocked for {timeout} s")
    return result.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_and_other_non_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "table.npz"
    os.mkfifo(fifo)
    link = tmp_path / "link.npz"
    link.symlink_to(fifo)
    for path, kind in ((fifo, "FIFO"), (link, "FIFO"), (tmp_path, "directory"), ("/dev/null", "device")):
        error = load_in_thread(path)
        assert isinstance(error, CouplingTableError), (path, error)
        assert kind in str(error) and "regular file" in str(error)


def test_open_refuses_a_fifo_swapped_in_after_the_check(tmp_path, monkeypatch):
    # the type is checked again on the descriptor, opened non-blocking
    from rstref.tables import _load

    fifo = tmp_path / "swapped.npz"
    os.mkfifo(fifo)
    regular = os.stat(coupling.shipped_table_path())
    monkeypatch.setattr(_load.os, "stat", lambda path: regular)
    with pytest.raises(CouplingTableError, match="FIFO"):
        _load.open_regular_file(str(fifo), "swapped.npz")


@pytest.mark.parametrize("bad", [3, 2.5, ["cg.npz"]])
def test_path_of_the_wrong_type_is_refused(bad):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_table(bad)


def test_oversized_member_is_refused_from_the_zip_directory(tmp_path):
    """A small zip whose member inflates far beyond what l_max allows: no decompression."""
    import tracemalloc

    base = shipped_arrays()
    path = tmp_path / "bomb.npz"
    n_bytes = 64 * 2**20
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in base.items():
            if key == "values":
                continue
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(key + ".npy", buf.getvalue())
        with zf.open("values.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (n_bytes // 8,)})
            chunk = bytes(2**20)
            for _ in range(n_bytes // len(chunk)):
                member.write(chunk)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(CouplingTableError, match=r"values\.npy declares \d+ uncompressed bytes"):
            load_table(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # the 64 MiB member was never inflated


def test_member_limits_hold_the_shipped_table():
    from rstref.tables import _load

    table = load_table()
    with zipfile.ZipFile(coupling.shipped_table_path()) as zf:
        sizes = {info.filename[:-4]: info.file_size for info in zf.infolist()}
    limits = _load.member_byte_limits(table.l_max)
    assert all(sizes[k] <= limits[k] for k in ALL_KEYS)
    assert table.size <= _load.max_entries(table.l_max) < 8 * table.size  # a bound, and not a loose one


def test_absurd_l_max_is_refused_before_the_big_members_are_read(tmp_path):
    base = shipped_arrays()
    write_members(tmp_path / "big_l.npz", {**base, "l_max": np.array(201, dtype=np.int64)})
    expect_table_error(tmp_path / "big_l.npz", "l_max = 201 outside 0..200")
    write_members(tmp_path / "vec_l.npz", {**base, "l_max": np.arange(3)})
    expect_table_error(tmp_path / "vec_l.npz", "'l_max' must be an integer scalar")


def edited_block(arrays, triple, change):
    """Arrays with ``change(values_of_block)`` applied to block ``triple`` and the hash recomputed."""
    start, stop = load_table().block_range(*triple)
    values = arrays["values"].copy()
    values[start:stop] = change(values[start:stop])
    return rehash({**arrays, "values": values})


def test_consistently_edited_coefficient_is_refused(tmp_path):
    # the class of the reported attack: one coefficient off by 0.65, content hash recomputed
    base = shipped_arrays()
    for triple, pos in (((3, 4, 5), 7), ((10, 10, 10), 0), ((1, 0, 1), 0)):
        def change(v, pos=pos):
            v[pos] = v[pos] - 0.65 if v[pos] > 0 else v[pos] + 0.65
            return v

        path = tmp_path / f"edited{triple}.npz"
        write_members(path, edited_block(base, triple, change))
        expect_table_error(path, r"not orthonormal|\|<l1 0 l2 0\|L 0>\|")
    # a tiny edit is caught too
    write_members(tmp_path / "tiny.npz", edited_block(base, (6, 5, 4), lambda v: v * (1 + 1e-11)))
    expect_table_error(tmp_path / "tiny.npz", "not orthonormal")


@functools.lru_cache(maxsize=1)
def shipped_arrays_cached():
    return shipped_arrays()


@given(entry=st.integers(0, 124712), factor=st.floats(1e-9, 1.0).map(lambda f: 1.0 + f) | st.floats(-2.0, 0.5),
       swap=st.booleans())
@example(entry=393, factor=2.0, swap=True)  # two entries of one column swapped: columns stay orthonormal
@example(entry=393, factor=-1.0, swap=False)  # one sign flipped
@example(entry=0, factor=1.0 + 1e-9, swap=False)
def test_any_consistent_single_edit_is_refused(entry, factor, swap):
    """One coefficient scaled or sign-flipped (or two of different size swapped), hash recomputed.

    ``load_table`` of such a file (not the shipped path, whose hash is pinned) runs the
    structural checks and then the comparison with the shipped table: one of them refuses
    it.  Magnitude changes already fail the structural checks (orthonormality and
    completeness); a lone sign flip can keep both intact and is caught by the comparison.
    """
    from rstref.tables import _load

    base = shipped_arrays_cached()
    values = base["values"].copy()
    if swap:
        other = (entry + 1) % values.size
        if abs(abs(values[entry]) - abs(values[other])) < 1e-6:
            return
        values[entry], values[other] = values[other], values[entry]
    else:
        values[entry] *= factor
    edited = rehash({**base, "values": values})
    with pytest.raises(CouplingTableError):
        _load.check_table_arrays(edited, "edited")
        _load.check_against_reference(edited, "edited", 10, load_table())
    if factor > 0 and not swap:
        with pytest.raises(CouplingTableError, match="orthonormal|complete|at most 1"):
            _load.check_table_arrays(edited, "edited")


def test_orthonormality_preserving_edits_are_refused(tmp_path):
    base = shipped_arrays()
    # an odd block's overall sign: still orthonormal, selection rules intact; only the reference catches it
    write_members(tmp_path / "odd.npz", edited_block(base, (2, 1, 2), lambda v: -v))
    expect_table_error(tmp_path / "odd.npz", "differ from rstref's shipped table")
    # an even block's overall sign breaks the convention C[0,0,0] = |<l1 0 l2 0|L 0>|
    write_members(tmp_path / "even.npz", edited_block(base, (2, 2, 2), lambda v: -v))
    expect_table_error(tmp_path / "even.npz", "sign convention")


def test_parity_selection_rules_are_checked(tmp_path):
    from rstref.tables import _load

    base = shipped_arrays()
    start, _ = load_table().block_range(1, 1, 0)  # C^{110}[m, m, 0] = 1/sqrt(3): move one entry's m2
    m2 = base["m2_index"].copy()
    M = base["M_index"].copy()
    # (m1, m2, M) = (-1, -1, 0) -> (-1, 1, 0): |M| = |m1 + m2| still holds, the x-rotation rule does not
    assert (base["m1_index"][start], m2[start], M[start]) == (0, 0, 0)
    m2[start] = 2
    arrays = rehash({**base, "m2_index": m2})
    with pytest.raises(CouplingTableError, match="rotation by pi about x|sorted"):
        _load.check_structure(arrays, "p", 10)


def test_shipped_table_hash_is_pinned_in_the_code(tmp_path, monkeypatch):
    base = shipped_arrays()
    forged = tmp_path / coupling.CLEBSCH_GORDAN_FILE
    write_members(forged, edited_block(base, (2, 1, 2), lambda v: -v))  # passes every structural check
    from rstref.tables import _load

    _load.check_structure(edited_block(base, (2, 1, 2), lambda v: -v), "forged", 10)
    monkeypatch.setattr(coupling, "shipped_table_path", lambda: str(forged))
    monkeypatch.setattr(coupling, "_cache", {})
    with pytest.raises(CouplingTableError, match="pinned in rstref"):
        load_table()


def test_generated_tables_are_checked_against_the_shipped_one(tmp_path):
    path = tmp_path / "cg2.npz"
    small = coupling.generate_table(2, path)
    assert small.content_sha256 != coupling.SHIPPED_CONTENT_SHA256
    arrays = {k: np.asarray(getattr(small, k)) for k in ("block_offsets", "m1_index", "m2_index", "M_index", "values")}
    with zipfile.ZipFile(path) as zf:
        meta = {k: np.load(io.BytesIO(zf.read(k + ".npy"))) for k in ALL_KEYS}
    arrays = {**meta, **arrays}
    start, stop = small.block_range(1, 1, 1)
    values = arrays["values"].copy()
    values[start:stop] *= -1  # orthonormal, rule-abiding, and wrong
    write_members(tmp_path / "flipped.npz", rehash({**arrays, "values": values}))
    expect_table_error(tmp_path / "flipped.npz", r"l <= 2 differ from rstref's shipped table")


# ----------------------------------------------------------------------- read-only tables


def test_table_arrays_cannot_be_made_writable(table):
    arrays = (table.block_offsets, table.m1_index, table.m2_index, table.M_index, table.values)
    for arr in arrays + tuple(a[2:9] for a in arrays) + tuple(a.reshape(-1, 1) for a in arrays):
        with pytest.raises(ValueError, match="WRITEABLE"):
            arr.setflags(write=True)
    for arr in table.kernel_arrays()[:5]:
        assert not arr.flags.writeable
    expected = clebsch_gordan(3, 3, 2)
    with pytest.raises(ValueError):
        np.copyto(table.values, 0.0)
    with pytest.raises(AttributeError, match="immutable"):
        table.values = np.zeros_like(table.values)
    with pytest.raises(AttributeError, match="immutable"):
        del table.l_max
    np.testing.assert_array_equal(clebsch_gordan(3, 3, 2), expected)


def test_writable_arrays_cannot_build_a_table():
    arrays = shipped_arrays()
    with pytest.raises(ValueError, match="read-only"):
        CouplingTable(arrays, "x")


# ----------------------------------------------------------------------- no leaked handles


def test_failed_loads_leak_no_file_handles(tmp_path):
    import gc
    import warnings

    data = open_bytes(coupling.shipped_table_path())
    bad = []
    for n in (0, 10, len(data) // 2):
        bad.append(tmp_path / f"trunc{n}.npz")
        bad[-1].write_bytes(data[:n])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x55
    bad.append(tmp_path / "flip.npz")
    bad[-1].write_bytes(bytes(flipped))
    bad.append(tmp_path / "text.npz")
    bad[-1].write_text("hello")
    np.savez(tmp_path / "foreign.npz", x=np.arange(3))
    bad.append(tmp_path / "foreign.npz")
    arrays = shipped_arrays()
    arrays["values"] = np.array([object()] * 3, dtype=object)
    write_members(tmp_path / "obj.npz", arrays, allow_pickle=True)
    bad.append(tmp_path / "obj.npz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for path in bad:
            with pytest.raises(CouplingTableError):
                load_table(path)
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# ----------------------------------------------------------------------- worker pools


@pytest.mark.parametrize("guarded", [False, True])
def test_generate_with_workers_from_a_script_never_hangs(tmp_path, guarded):
    """An unguarded script (spawn re-imports it in each worker) gets a clear error, quickly."""
    import subprocess
    import sys
    import textwrap

    call = "table = generate_table(1, sys.argv[1], workers=2)\nprint('RESULT', table.l_max)\n"
    body = textwrap.indent(call, "    ") if guarded else call
    script = tmp_path / "make_table.py"
    script.write_text(
        "import sys\nfrom rstref.coupling import generate_table\n"
        + ("if __name__ == '__main__':\n" if guarded else "") + body
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(rstref.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "t.npz")], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    if guarded:
        assert done.returncode == 0, done.stderr
        assert "RESULT 1" in done.stdout
    else:
        assert done.returncode != 0 and "RESULT" not in done.stdout
        assert "RuntimeError" in done.stderr and 'if __name__ == "__main__":' in done.stderr
        assert not (tmp_path / "t.npz").exists()
