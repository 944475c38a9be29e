"""Flow-level contention model: idle paths, disjoint flows, shared bottlenecks, max-min
fairness (hypothesis), ring collectives against the analytical collective model, concurrent
all-to-alls, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import SpecError
from hwmodels.network.collectives import (
    CollectiveParams,
    LinkClassParams,
    ProtocolParams,
    collective_time,
)
from hwmodels.network.flows import Flow, max_min_rates, ring_flows, simulate_flows
from hwmodels.network.topology import (
    LinkSpec,
    SwitchSpec,
    find_flow_path,
    ft2,
    hgx_scale_up,
)
from hwmodels.network.topology.topology import Topology

pytestmark = pytest.mark.unit

NDR = 50e9  # bytes/s per direction, the default endpoint and fabric link
GB = 1e9


def _ideal_ft2(radix: int = 8) -> Topology:
    """An FT2 of one GPU per server with zero latencies everywhere (bandwidths as default)."""
    link = LinkSpec(bytes_per_s=NDR, latency_s=0.0, source="test")
    pcie = LinkSpec(bytes_per_s=64e9, latency_s=0.0, source="test")
    return ft2(radix, gpus_per_node=1, link=link,
               switch=SwitchSpec(latency_s=0.0, source="test"),
               scale_up=hgx_scale_up().model_copy(update={"pcie": pcie}))


@pytest.fixture(scope="module")
def net() -> Topology:
    """FT2, radix 8: 32 GPUs, one per server, 4 per leaf; default link latencies."""
    return ft2(8, gpus_per_node=1)


@pytest.fixture(scope="module")
def ideal() -> Topology:
    return _ideal_ft2()


def _alone(topology: Topology, f: Flow) -> float:
    p = find_flow_path(topology, f.src, f.dst)
    return f.start_s + f.bytes / p.bottleneck_bytes_per_s + p.latency_s


# ------------------------------------------------------------------------------ basics
@pytest.mark.parametrize(("src", "dst"), [(0, 1), (0, 31), (5, 17)])
def test_one_flow_on_an_idle_path(net: Topology, src: int, dst: int) -> None:
    f = Flow(src, dst, 3 * GB, start_s=1e-3)
    r = simulate_flows(net, [f])
    p = r.paths[0]
    assert p.bottleneck_bytes_per_s == NDR
    assert r.finish_s[0] == pytest.approx(1e-3 + 3 * GB / NDR + p.latency_s, rel=1e-12)
    assert r.start_s[0] == 1e-3 and r.makespan_s == r.finish_s[0]
    assert max(r.link_peak_utilization.values()) == pytest.approx(1.0)
    assert r.link_bytes[p.links[0]] == pytest.approx(3 * GB)


def test_flows_sharing_no_link_finish_as_alone(net: Topology) -> None:
    # 1 -> 0 runs against 0 -> 1 on the same cables: full duplex, no shared directed link
    flows = [Flow(0, 1, 2 * GB), Flow(1, 0, 1 * GB), Flow(4, 5, 3 * GB, start_s=2e-3),
             Flow(8, 30, 0.5 * GB)]
    r = simulate_flows(net, flows)
    links = [set(p.links) for p in r.paths]
    assert all(not (links[i] & links[j]) for i in range(4) for j in range(i + 1, 4))
    for i, f in enumerate(flows):
        assert r.finish_s[i] == pytest.approx(_alone(net, f), rel=1e-12)


def test_two_flows_on_one_bottleneck_get_half_each(net: Topology) -> None:
    # both end at GPU 1: they share leaf0 -> nic1 (50 GB/s) and nic1 -> gpu1 (PCIe 64 GB/s)
    flows = [Flow(0, 1, 2 * GB), Flow(2, 1, 2 * GB)]
    r = simulate_flows(net, flows)
    shared = set(r.paths[0].links) & set(r.paths[1].links)
    assert ("leaf0", "nic1") in shared
    for i in range(2):
        assert r.finish_s[i] == pytest.approx(2 * 2 * GB / NDR + r.paths[i].latency_s)
    assert r.link_peak_utilization[("leaf0", "nic1")] == pytest.approx(1.0)
    assert r.link_peak_utilization[("nic1", "gpu1")] == pytest.approx(2 * NDR / 2 / 64e9)


def test_short_flow_leaves_and_long_flow_speeds_up(ideal: Topology) -> None:
    # equal share until the short one ends, then the long one gets the whole link
    r = simulate_flows(ideal, [Flow(0, 1, 1 * GB), Flow(2, 1, 3 * GB)])
    assert r.finish_s[0] == pytest.approx(2 * GB / NDR)
    assert r.finish_s[1] == pytest.approx(2 * GB / NDR + 2 * GB / NDR)
    assert r.events == 2


def test_dependencies_and_start_times(ideal: Topology) -> None:
    a = Flow(0, 1, 1 * GB, name="a")
    b = Flow(1, 2, 1 * GB, name="b", after=("a",), start_s=0.0)
    c = Flow(2, 3, 1 * GB, name="c", after=("a",), start_s=0.05)
    r = simulate_flows(ideal, [c, b, a])
    t = GB / NDR
    assert r.finish_s == pytest.approx((0.05 + t, 2 * t, t))
    assert r.start_s == pytest.approx((0.05, t, 0.0))


def test_zero_byte_and_self_flows(net: Topology) -> None:
    r = simulate_flows(net, [Flow(0, 0, 1 * GB), Flow(0, 9, 0.0)])
    assert r.finish_s[0] == 0.0
    assert r.finish_s[1] == pytest.approx(r.paths[1].latency_s)
    assert simulate_flows(net, []).makespan_s == 0.0


# ------------------------------------------------------------------------------ fairness
@st.composite
def _instances(draw: st.DrawFn) -> tuple[list[list[int]], dict[int, float]]:
    n_links = draw(st.integers(1, 6))
    cap = {i: draw(st.floats(0.5, 100.0)) for i in range(n_links)}
    paths = draw(st.lists(st.lists(st.integers(0, n_links - 1), min_size=1, max_size=n_links,
                                   unique=True), min_size=1, max_size=9))
    return paths, cap


@settings(max_examples=200, deadline=None)
@given(_instances())
def test_max_min_fairness(instance: tuple[list[list[int]], dict[int, float]]) -> None:
    paths, cap = instance
    rates = max_min_rates(paths, cap)
    load = dict.fromkeys(cap, 0.0)
    for p, r in zip(paths, rates, strict=True):
        assert r > 0
        for link in p:
            load[link] += r
    tol = 1e-9
    for link, c in cap.items():
        assert load[link] <= c * (1 + tol)  # feasible
    saturated = {link for link, c in cap.items() if load[link] >= c * (1 - tol)}
    for i, p in enumerate(paths):
        # a bottleneck: a saturated link where no flow gets more than flow i
        others = [[rates[j] for j, q in enumerate(paths) if link in q] for link in p]
        assert any(link in saturated and max(rs) <= rates[i] * (1 + tol)
                   for link, rs in zip(p, others, strict=True)), (i, rates)
        # hence no flow can grow without shrinking one of smaller or equal rate: on its
        # bottleneck every other flow has rate <= its own
    assert max_min_rates([[]], {}) == [float("inf")]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(1, 4)),
                min_size=1, max_size=12))
def test_random_flows_never_beat_their_idle_time(triples: list[tuple[int, int, int]]) -> None:
    topo = _ideal_ft2(radix=8)
    flows = [Flow(s, d, b * GB) for s, d, b in triples if s != d]
    r = simulate_flows(topo, flows)
    for i, f in enumerate(flows):
        assert r.finish_s[i] >= _alone(topo, f) * (1 - 1e-9)
    assert all(u <= 1 + 1e-9 for u in r.link_peak_utilization.values())
    total = sum(f.bytes for f in flows)
    assert r.makespan_s <= total / NDR * (1 + 1e-9)  # never slower than one at a time


# ------------------------------------------------------------------------------ collectives
def _simple_only(bw: float) -> LinkClassParams:
    one = CollectiveParams(base_latency_s=0.0, bus_bytes_per_s=bw, peer_half=0.0,
                           protocols={"Simple": ProtocolParams(step_latency_s=0.0,
                                                               efficiency=1.0)})
    return LinkClassParams(collectives={k: one for k in ("all_gather", "reduce_scatter",
                                                         "all_reduce", "all_to_all")},
                           sms=1, source="test: bandwidth term only")


@pytest.mark.parametrize("kind", ["all_gather", "reduce_scatter", "all_reduce", "all_to_all"])
@pytest.mark.parametrize("n", [4, 8, 16])
def test_ring_alone_matches_analytical_bandwidth_term(ideal: Topology, kind: str,
                                                      n: int) -> None:
    nbytes = 256e6
    r = simulate_flows(ideal, ring_flows(range(n), nbytes, kind))
    expected = collective_time(_simple_only(NDR), kind, nbytes, n).time_s
    assert r.makespan_s == pytest.approx(expected, rel=0.01)


def test_ring_all_gather_with_latencies_within_one_percent(net: Topology) -> None:
    # default link and switch latencies: a large buffer makes them negligible
    n, nbytes = 8, 2e9
    r = simulate_flows(net, ring_flows(list(range(0, 32, 4)), nbytes, "all_gather"))
    expected = collective_time(_simple_only(NDR), "all_gather", nbytes, n).time_s
    assert r.makespan_s == pytest.approx(expected, rel=0.01)
    assert r.makespan_s > expected  # the latencies add a little


def test_ring_flow_counts() -> None:
    assert len(ring_flows(range(8), 1.0, "all_gather")) == 8 * 7
    assert len(ring_flows(range(8), 1.0, "all_reduce")) == 8 * 14
    assert len(ring_flows(range(8), 1.0, "all_to_all")) == 8 * 7
    assert ring_flows([3], 1.0, "all_gather") == []
    (f,) = ring_flows([3, 9], 5.0, "send_recv", tag="p")
    assert (f.src, f.dst, f.bytes, f.tag) == (3, 9, 5.0, "p")
    total = sum(f.bytes for f in ring_flows(range(8), 8.0, "reduce_scatter"))
    assert total == pytest.approx(8 * 7)  # (n-1)/n S per rank


def test_two_all_to_alls_on_the_same_nodes_take_longer(ideal: Topology) -> None:
    gpus = list(range(8))
    alone = simulate_flows(ideal, ring_flows(gpus, 512e6, "all_to_all", tag="a"))
    both = simulate_flows(ideal, ring_flows(gpus, 512e6, "all_to_all", tag="a")
                          + ring_flows(gpus, 512e6, "all_to_all", tag="b"))
    assert both.finish_of("a") > alone.finish_of("a") * 1.5
    assert both.makespan_s == pytest.approx(2 * alone.makespan_s, rel=0.01)
    # on disjoint GPUs (other leaves) they do not disturb each other
    apart = simulate_flows(ideal, ring_flows(gpus, 512e6, "all_to_all", tag="a")
                           + ring_flows(range(16, 24), 512e6, "all_to_all", tag="b"))
    assert apart.finish_of("a") == pytest.approx(alone.finish_of("a"))
    assert apart.duration_of("b") == pytest.approx(alone.duration_of("a"))


def test_concurrent_rings_share_links_in_an_hgx_server() -> None:
    # inside an 8-GPU server flows go over NVLink (GPU -> NVSwitch -> GPU)
    topo = ft2(4, gpus_per_node=8, world=8)
    nbytes = 1e9
    alone = simulate_flows(topo, ring_flows(range(8), nbytes, "all_gather"))
    assert all(k == "nvlink" for p in alone.paths for k in p.kinds)
    both = simulate_flows(topo, ring_flows(range(8), nbytes, "all_gather", tag="x")
                          + ring_flows(range(8), nbytes, "all_gather", tag="y"))
    assert both.makespan_s > alone.makespan_s


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("flows", "field"), [
    ([Flow(0, 1, -1.0)], "flows[0].bytes"),
    ([Flow(0, 1, float("nan"))], "flows[0].bytes"),
    ([Flow(0, 1, 1.0, start_s=-1.0)], "flows[0].start_s"),
    ([Flow(0, 1, 1.0, name="a"), Flow(1, 2, 1.0, name="a")], "flows[1].name"),
    ([Flow(0, 1, 1.0, after=("zz",))], "flows[0].after"),
    ([Flow(0, 1, 1.0, name="a", after=("b",)), Flow(1, 2, 1.0, name="b", after=("a",))],
     "flows"),
    ([Flow(0, 99, 1.0)], "dst"),
    (["not a flow"], "flows[0]"),
])
def test_bad_flows(net: Topology, flows: list, field: str) -> None:
    with pytest.raises(SpecError) as e:
        simulate_flows(net, flows)
    assert e.value.field == field


def test_bad_ring_input_and_unknown_tag(net: Topology) -> None:
    with pytest.raises(SpecError) as e:
        ring_flows(range(4), 1.0, "broadcast")
    assert e.value.field == "kind" and "all_gather" in e.value.allowed
    with pytest.raises(SpecError, match="nbytes"):
        ring_flows(range(4), -1.0, "all_gather")
    with pytest.raises(SpecError, match="gpus"):
        ring_flows([1, 1], 1.0, "all_gather")
    r = simulate_flows(net, ring_flows(range(4), 1e6, "all_gather", tag="ag"))
    with pytest.raises(SpecError) as e:
        r.finish_of("nope")
    assert e.value.field == "tag" and e.value.allowed == ("ag",)
