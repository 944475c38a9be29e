"""Finite fields GF(q) and the McKay-Miller-Siran (MMS) graphs behind slim fly.

Slim fly (Besta and Hoefler, SC 2014, "Slim Fly: A Cost Effective Low-Diameter Network
Topology", section II): for a prime power ``q = 4w + delta`` (delta in {-1, 0, 1}), routers
``(0, x, y)`` and ``(1, m, c)`` over GF(q); with a primitive element ``xi`` and generator sets
``X``, ``X'`` (below), ``(0,x,y) ~ (0,x,y')`` iff ``y - y'`` in ``X``, ``(1,m,c) ~ (1,m,c')``
iff ``c - c'`` in ``X'``, and ``(0,x,y) ~ (1,m,c)`` iff ``y = m x + c``. The result has
``2 q^2`` routers of degree ``(3q - delta) / 2`` and diameter 2.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product


def prime_power(q: int) -> tuple[int, int] | None:
    """``(p, n)`` with ``q = p**n``, ``p`` prime, or None."""
    if q < 2:
        return None
    p = next(d for d in range(2, q + 1) if q % d == 0)
    n, r = 0, q
    while r % p == 0:
        r //= p
        n += 1
    return (p, n) if r == 1 else None


def delta(q: int) -> int | None:
    """Slim fly's ``delta`` with ``q = 4w + delta``, or None when ``q % 4 == 2``."""
    return {0: 0, 1: 1, 3: -1}.get(q % 4)


def _poly_mod(a: list[int], m: list[int], p: int) -> list[int]:
    """``a mod m`` over GF(p); coefficients lowest degree first, ``m`` monic."""
    a = a[:]
    while len(a) >= len(m):
        c = a[-1] % p
        shift = len(a) - len(m)
        if c:
            for i, mc in enumerate(m):
                a[shift + i] = (a[shift + i] - c * mc) % p
        a.pop()
    return a


def _irreducible(p: int, n: int) -> list[int]:
    """The first monic irreducible polynomial of degree ``n`` over GF(p) (brute force)."""
    for tail in product(range(p), repeat=n):
        f = [*tail, 1]
        if f[0] == 0:
            continue
        reducible = False
        for d in range(1, n // 2 + 1):
            for dt in product(range(p), repeat=d):
                if not any(_poly_mod(f, [*dt, 1], p)):
                    reducible = True
                    break
            if reducible:
                break
        if not reducible:
            return f
    raise AssertionError(f"no irreducible polynomial of degree {n} over GF({p})")


@lru_cache(maxsize=16)
def field_tables(q: int) -> tuple[list[list[int]], list[list[int]], int]:
    """Addition and multiplication tables of GF(q) (elements ``0..q-1``) and a primitive element.

    Element ``e`` of GF(p^n) is the polynomial whose base-``p`` digits are its coefficients.
    """
    pn = prime_power(q)
    if pn is None:
        raise ValueError(f"{q} is not a prime power")
    p, n = pn

    def digits(e: int) -> list[int]:
        return [(e // p**i) % p for i in range(n)]

    def number(d: list[int]) -> int:
        return sum(c * p**i for i, c in enumerate(d))

    add = [[number([(x + y) % p for x, y in zip(digits(a), digits(b), strict=True)])
            for b in range(q)] for a in range(q)]
    if n == 1:
        mul = [[(a * b) % p for b in range(q)] for a in range(q)]
    else:
        f = _irreducible(p, n)
        mul = [[0] * q for _ in range(q)]
        for a in range(q):
            da = digits(a)
            for b in range(q):
                db = digits(b)
                prod = [0] * (2 * n - 1)
                for i, x in enumerate(da):
                    for j, y in enumerate(db):
                        prod[i + j] = (prod[i + j] + x * y) % p
                r = _poly_mod(prod, f, p)
                mul[a][b] = number(r + [0] * (n - len(r)))
    for xi in range(2, q) if q > 2 else [1]:
        seen, e = set(), 1
        for _ in range(q - 1):
            e = mul[e][xi]
            seen.add(e)
        if len(seen) == q - 1:
            return add, mul, xi
    return add, mul, 1  # q == 2


def mms_edges(q: int) -> list[tuple[int, int]]:
    """Router-to-router edges of the MMS graph of prime power ``q`` (``q % 4 != 2``).

    Router ``(s, a, b)`` is numbered ``s*q*q + a*q + b``.
    """
    d = delta(q)
    if d is None or prime_power(q) is None:
        raise ValueError(f"MMS graphs need a prime power q with q % 4 != 2, got {q}")
    add, mul, xi = field_tables(q)
    powers = [1]
    for _ in range(q - 2):
        powers.append(mul[powers[-1]][xi])

    def pw(e: int) -> int:
        return powers[e % (q - 1)]

    w = (q - d) // 4
    if d == 1:
        x_set = {pw(e) for e in range(0, q - 1, 2)}
        x_prime = {pw(e) for e in range(1, q - 1, 2)}
    elif d == -1:
        x_set = {pw(e) for e in [*range(0, 2 * w - 1, 2), *range(2 * w - 1, 4 * w - 2, 2)]}
        x_prime = {pw(e) for e in [*range(1, 2 * w, 2), *range(2 * w, 4 * w - 1, 2)]}
    else:
        x_set = {pw(e) for e in range(0, q - 1, 2)}
        x_prime = {pw(e) for e in range(1, q, 2)}
    neg = [next(b for b in range(q) if add[a][b] == 0) for a in range(q)]
    sub = [[add[a][neg[b]] for b in range(q)] for a in range(q)]
    qq = q * q
    edges: list[tuple[int, int]] = []
    for a in range(q):
        for y in range(q):
            for y2 in range(y + 1, q):
                if sub[y][y2] in x_set:
                    edges.append((a * q + y, a * q + y2))
                if sub[y][y2] in x_prime:
                    edges.append((qq + a * q + y, qq + a * q + y2))
    for x in range(q):
        for m in range(q):
            mx = mul[m][x]
            for c in range(q):
                edges.append((x * q + add[mx][c], qq + m * q + c))
    return edges
