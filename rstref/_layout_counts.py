"""Closed-form counts behind the bispectrum layout of :mod:`rstref.layouts` (no checks).

A bispectrum block ``(l1, l2, l3)`` holds the radial triples ``(n1, n2, n3)`` allowed by
``bispectrum_range``: with ``N = n_max``, ``N**3`` when the degrees differ, ``N * C(N+1, 2)``
(even sum) or ``N * C(N, 2)`` (odd sum) when two are equal, ``C(N+2, 3)`` or ``C(N, 3)``
when all three are equal.  Sizes and indices are sums of such counts, never lists.
"""


def kept(parity, odd):
    """Whether a block with an odd (``odd``) degree sum is in the ``parity`` layout."""
    return parity == "all" or (parity == "odd") == odd


def tri(a):
    """``a (a+1) / 2`` for ``a > 0``, else 0."""
    return a * (a + 1) // 2 if a > 0 else 0


def tet(a):
    """``a (a+1) (a+2) / 6`` (``sum_{j<=a} tri(j)``) for ``a > 0``, else 0."""
    return a * (a + 1) * (a + 2) // 6 if a > 0 else 0


def n_prefix(n1, N, e12, e23, s):
    """Number of radial triples of one (l1, l2, l3) block whose first index is below ``n1``.

    ``e12``/``e23``: l1 == l2 / l2 == l3 (then n2 >= n1 / n3 >= n2, strictly when
    ``s`` = 1, i.e. for an odd l1 + l2 + l3).  ``n_prefix(N, ...)`` is the block size.
    """
    if not e12:
        return n1 * (tri(N - s) if e23 else N * N)
    if not e23:
        return N * (tri(N - s) - tri(N - s - n1))
    return tet(N - 2 * s) - tet(N - 2 * s - n1)


def block_size(l1, l2, l3, N):
    s = (l1 + l2 + l3) % 2
    return n_prefix(N, N, l1 == l2, l2 == l3, s)


def parity_count(a, b, r):
    """How many integers ``x`` in ``[a, b)`` have ``x % 2 == r``."""
    return max(0, (b + 1 - r) // 2 - (a + 1 - r) // 2) if b > a else 0


def l3_blocks(l1, l2, stop, N, parity):
    """Total size of the blocks (l1, l2, l3) for ``l2 <= l3 < stop``."""
    if stop <= l2:
        return 0
    total = block_size(l1, l2, l2, N) if kept(parity, (l1 + 2 * l2) % 2 == 1) else 0
    e12 = l1 == l2
    for odd in (False, True):
        if kept(parity, odd):
            # l3 > l2 with l1 + l2 + l3 odd / even
            count = parity_count(l2 + 1, stop, (l1 + l2 + odd) % 2)
            total += count * n_prefix(N, N, e12, False, int(odd))
    return total


def l1l2_blocks_before(l1_stop, l2_stop_last, l_max, N, parity):
    """Size of all blocks with (l1', l2') before (l1_stop, l2_stop_last) in layout order."""
    total = 0
    for l1 in range(l1_stop + 1):
        last = l2_stop_last if l1 == l1_stop else l_max + 1
        for l2 in range(l1, last):
            total += l3_blocks(l1, l2, min(l1 + l2, l_max) + 1, N, parity)
    return total


def check_sorted(name, value, before, low, equal_degrees, strict):
    """Inside equal degrees the radial indices grow (strictly for an odd degree sum)."""
    if equal_degrees and value < low + strict:
        relation = ">" if strict else ">="
        why = " and l1 + l2 + l3 is odd (equal blocks would vanish)" if strict else ""
        raise ValueError(f"{name} = {value} must be {relation} {before} = {low} when their "
                         f"degrees are equal{why}: not a label of bispectrum_range")
