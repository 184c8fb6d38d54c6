"""PortAtoms and IPAtoms: the cuts, masks, and the round trip back to sets."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.model.sets import (
    BASE_PROTOCOLS,
    IPV4_MAX,
    IPV6_MAX,
    PORT_MAX,
    PORT_MIN,
    ConnSet,
    IntervalSet,
    IPSet,
    Protocol,
)

# --- PortAtoms ------------------------------------------------------------------------------


def test_no_ranges_gives_one_atom_per_protocol() -> None:
    atoms = PortAtoms.build([])
    assert len(atoms) == 3
    assert atoms.atoms == tuple((p, PORT_MIN, PORT_MAX) for p in BASE_PROTOCOLS)
    assert atoms.to_connset(np.ones(3, dtype=np.bool_)) == ConnSet.all()
    assert atoms.to_connset(np.zeros(3, dtype=np.bool_)) == ConnSet.none()


def test_cuts_at_range_boundaries_per_protocol() -> None:
    atoms = PortAtoms.build([(Protocol.TCP, 80, 80), (Protocol.TCP, 8000, 8100)])
    tcp = [(lo, hi) for p, lo, hi in atoms.atoms if p is Protocol.TCP]
    assert tcp == [(1, 79), (80, 80), (81, 7999), (8000, 8100), (8101, 65535)]
    # other protocols are not cut by TCP's ranges
    assert [(lo, hi) for p, lo, hi in atoms.atoms if p is Protocol.UDP] == [(1, 65535)]
    assert [(lo, hi) for p, lo, hi in atoms.atoms if p is Protocol.SCTP] == [(1, 65535)]


def test_ranges_at_the_edges_of_the_port_space() -> None:
    atoms = PortAtoms.build([(Protocol.UDP, 1, 1), (Protocol.UDP, 65535, 65535)])
    udp = [(lo, hi) for p, lo, hi in atoms.atoms if p is Protocol.UDP]
    assert udp == [(1, 1), (2, 65534), (65535, 65535)]


def test_atoms_partition_each_protocol() -> None:
    atoms = PortAtoms.build(
        [(Protocol.TCP, 5, 10), (Protocol.TCP, 8, 20), (Protocol.SCTP, 100, 100)]
    )
    for proto in BASE_PROTOCOLS:
        spans = [(lo, hi) for p, lo, hi in atoms.atoms if p is proto]
        assert spans[0][0] == PORT_MIN
        assert spans[-1][1] == PORT_MAX
        for (_, hi), (lo, _) in pairwise(spans):
            assert lo == hi + 1


def test_atom_of_and_mask() -> None:
    atoms = PortAtoms.build([(Protocol.TCP, 80, 80), (Protocol.UDP, 53, 53)])
    k = atoms.atom_of(Protocol.TCP, 80)
    assert atoms.atoms[k] == (Protocol.TCP, 80, 80)
    assert atoms.atoms[atoms.atom_of(Protocol.TCP, 1)] == (Protocol.TCP, 1, 79)
    assert atoms.atoms[atoms.atom_of(Protocol.TCP, 65535)] == (Protocol.TCP, 81, 65535)
    assert atoms.atoms[atoms.atom_of(Protocol.UDP, 53)] == (Protocol.UDP, 53, 53)
    assert atoms.atoms[atoms.atom_of(Protocol.SCTP, 53)] == (Protocol.SCTP, 1, 65535)
    m = atoms.mask(Protocol.TCP, 80, 80)
    assert m.dtype == np.bool_
    assert m.shape == (len(atoms),)
    assert np.flatnonzero(m).tolist() == [k]
    whole_tcp = atoms.mask(Protocol.TCP, 1, 65535)
    assert [atoms.atoms[i][0] for i in np.flatnonzero(whole_tcp)] == [Protocol.TCP] * 3


def test_mask_of_and_to_connset() -> None:
    atoms = PortAtoms.build(
        [(Protocol.TCP, 53, 53), (Protocol.UDP, 53, 53), (Protocol.TCP, 8000, 8100)]
    )
    dns = ConnSet.single(Protocol.TCP, 53) | ConnSet.single(Protocol.UDP, 53)
    m = atoms.mask_of(dns)
    assert int(m.sum()) == 2
    assert atoms.to_connset(m) == dns
    assert atoms.to_connset(atoms.mask_of(ConnSet.all())) == ConnSet.all()
    assert not atoms.mask_of(ConnSet.none()).any()
    # adjacent atoms come back merged
    both = atoms.mask(Protocol.TCP, 1, 53)
    assert atoms.to_connset(both).get(Protocol.TCP).intervals == ((1, 53),)


port_ranges = st.tuples(
    st.sampled_from(list(BASE_PROTOCOLS)), st.integers(1, 200), st.integers(1, 200)
).map(lambda t: (t[0], min(t[1], t[2]), max(t[1], t[2])))


@given(st.lists(port_ranges, min_size=1, max_size=8), st.data())
def test_port_round_trip_and_algebra(
    ranges: list[tuple[Protocol, int, int]], data: st.DataObject
) -> None:
    atoms = PortAtoms.build(ranges)

    def conns(picks: list[int]) -> ConnSet:
        out = ConnSet.none()
        for i in picks:
            p, lo, hi = ranges[i]
            out = out | ConnSet.single(p, lo, hi)
        return out

    idx = st.lists(st.integers(0, len(ranges) - 1), max_size=len(ranges))
    a, b = conns(data.draw(idx)), conns(data.draw(idx))
    ma, mb = atoms.mask_of(a), atoms.mask_of(b)
    assert atoms.to_connset(ma) == a
    assert atoms.to_connset(mb) == b
    assert atoms.to_connset(ma | mb) == a | b
    assert atoms.to_connset(ma & mb) == a & b
    assert atoms.to_connset(ma & ~mb) == a - b
    # every atom is either wholly inside a rule's range or wholly outside
    for p, lo, hi in ranges:
        inside = atoms.mask(p, lo, hi)
        for k, (ap, alo, ahi) in enumerate(atoms.atoms):
            if inside[k]:
                assert ap is p
                assert lo <= alo
                assert ahi <= hi
            elif ap is p:
                assert ahi < lo or alo > hi


# --- IPAtoms --------------------------------------------------------------------------------


def test_ip_atoms_without_input_cover_both_families_and_hide_ipv6() -> None:
    atoms = IPAtoms.build([])
    assert atoms.v4 == ((0, IPV4_MAX),)
    assert atoms.v6 == ((0, IPV6_MAX),)
    assert len(atoms) == 2
    assert atoms.show_v6 is False


def test_ipv4_only_input_does_not_show_ipv6() -> None:
    atoms = IPAtoms.build([IPSet.from_cidr("10.0.0.0/8"), IPSet.all_v4()])
    assert atoms.show_v6 is False
    assert atoms.v6 == ((0, IPV6_MAX),)
    everything = atoms.mask(IPSet.everything())
    assert everything.all()
    assert atoms.to_ipset(everything) == IPSet.everything()


def test_ipv6_shown_only_when_the_input_mentions_it() -> None:
    v6 = IPSet.from_cidr("2001:db8::/32")
    atoms = IPAtoms.build([IPSet.from_cidr("10.0.0.0/8"), v6])
    assert atoms.show_v6 is True
    lo = 0x20010DB8 << 96
    assert atoms.v6 == ((0, lo - 1), (lo, lo + 2**96 - 1), (lo + 2**96, IPV6_MAX))
    assert len(atoms) == 3 + 3
    m = atoms.mask(v6)
    assert np.flatnonzero(m).tolist() == [3 + 1]
    assert atoms.to_ipset(m) == v6
    assert atoms.atom_of_address(IPSet.from_address("2001:db8::1")) == 4
    assert atoms.atom_of_address(IPSet.from_address("::1")) == 3
    assert atoms.atom_set(4) == v6
    assert atoms.atom_of_address(IPSet()) is None


def test_ip_atoms_cut_at_cidr_and_except() -> None:
    block = IPSet.all_v4() - IPSet.from_cidr("169.254.169.254/32")
    card = IPSet.from_cidr("198.51.100.0/24")
    atoms = IPAtoms.build([block, card])
    meta = int.from_bytes(bytes([169, 254, 169, 254]))
    net = int.from_bytes(bytes([198, 51, 100, 0]))
    assert atoms.v4 == (
        (0, meta - 1),
        (meta, meta),
        (meta + 1, net - 1),
        (net, net + 255),
        (net + 256, IPV4_MAX),
    )
    assert atoms.to_ipset(atoms.mask(block)) == block
    assert atoms.to_ipset(atoms.mask(card)) == card
    assert np.flatnonzero(atoms.mask(card)).tolist() == [3]
    assert atoms.atom_of_address(IPSet.from_address("169.254.169.254")) == 1
    assert atoms.atom_of_address(IPSet.from_address("198.51.100.77")) == 3
    assert atoms.atom_of_address(IPSet.from_address("8.8.8.8")) == 0
    assert atoms.atom_of_address(IPSet.from_address("203.0.113.7")) == 4
    assert atoms.atom_set(1) == IPSet.from_address("169.254.169.254")


def test_ip_atom_masks_are_sized_to_the_atoms() -> None:
    atoms = IPAtoms.build([IPSet.from_cidr("10.0.0.0/8"), IPSet.from_cidr("fd00::/8")])
    m = atoms.mask(IPSet.from_cidr("10.0.0.0/8"))
    assert m.shape == (len(atoms),)
    assert m.dtype == np.bool_
    assert np.flatnonzero(m).tolist() == [1]
    assert len(atoms) == 3 + 3


def _block(address: int, prefix: int, bits: int) -> tuple[int, int]:
    """The network `address/prefix` as a closed interval, host bits dropped."""
    size = 1 << (bits - prefix)
    lo = address - address % size
    return lo, lo + size - 1


v4_cidrs = st.tuples(st.integers(0, IPV4_MAX), st.integers(0, 32)).map(
    lambda t: IPSet(v4=IntervalSet.span(*_block(t[0], t[1], 32)))
)
v6_cidrs = st.tuples(st.integers(0, IPV6_MAX), st.integers(0, 128)).map(
    lambda t: IPSet(v6=IntervalSet.span(*_block(t[0], t[1], 128)))
)


@given(
    st.lists(v4_cidrs, min_size=1, max_size=6),
    st.lists(v6_cidrs, max_size=3),
    st.data(),
)
def test_ip_round_trip_and_algebra(v4: list[IPSet], v6: list[IPSet], data: st.DataObject) -> None:
    sets = v4 + v6
    atoms = IPAtoms.build(sets)
    assert atoms.show_v6 == bool(v6)
    a = data.draw(st.sampled_from(sets))
    b = data.draw(st.sampled_from(sets))
    ma, mb = atoms.mask(a), atoms.mask(b)
    assert atoms.to_ipset(ma) == a
    assert atoms.to_ipset(ma | mb) == a | b
    assert atoms.to_ipset(ma & mb) == a & b
    assert atoms.to_ipset(ma & ~mb) == a - b
    assert atoms.to_ipset(np.ones(len(atoms), dtype=np.bool_)) == IPSet.everything()
    # each atom lies wholly inside or wholly outside every input set
    for k in range(len(atoms)):
        piece = atoms.atom_set(k)
        for s in sets:
            assert piece <= s or not (piece & s)
