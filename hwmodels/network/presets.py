"""Named systems (registered in ``codesign.hw.SYSTEMS`` as core ``SystemSpec`` data), the
default fabric (``codesign.hw.FABRICS``) and the cluster a bare device name stands for.

A bare device name (``h100-sxm``) used where a system is expected means a cluster of
HGX-style nodes of that device (:func:`cluster_spec`): 8 GPUs per node on the device's NVLink,
one 400 Gb/s NIC per GPU on a two-tier fat-tree of radix-64 switches, as many nodes as the
request needs. Every number carries its source.
"""

from __future__ import annotations

from typing import Any

from codesign.hw import CLUSTERS, FABRICS, SYSTEMS
from codesign.hw.system import (
    LinkSpec,
    PoolLinkSpec,
    PoolSpec,
    ScaleOutSpec,
    ScaleUpSpec,
    SystemSpec,
)
from hwmodels.network.system import PoolNetwork

NDR_NIC = 400e9 / 8  # bytes/s, ConnectX-7 400 Gb/s InfiniBand NDR, one direction
NDR_SOURCE = ("ConnectX-7 400 Gb/s NDR per GPU (NVIDIA DGX H100/B200 datasheets: 8 x 400 Gb/s "
              "OSFP ports); achievable 0.92: estimate (DeepEP reaches 43-47 GB/s of 50 on H800 "
              "+ CX7, deepseek-ai/DeepEP README); fabric latency 3 us: estimate (3 switch hops "
              "of ~0.6 us plus NIC)")
#: the pool name of single-pool presets
POOL = "gpus"


def _ndr(topology: str = "ft2", planes: int = 1) -> ScaleOutSpec:
    return ScaleOutSpec(topology=topology, radix=64, planes=planes, nic_bytes_per_s=NDR_NIC,
                        nics_per_gpu=1, achievable=0.92, latency_s=3e-6, source=NDR_SOURCE)


def _nvlink(bytes_per_s: float, source: str) -> ScaleUpSpec:
    return ScaleUpSpec(bytes_per_s=bytes_per_s, source=source)


def _pool(device: str, nvlink: float, src: str, nodes: int = 1, per_node: int = 8,
          scale_out: ScaleOutSpec | None = None, role: str = "") -> PoolSpec:
    return PoolSpec(device=device, nodes=nodes, devices_per_node=per_node,
                    scale_up=_nvlink(nvlink, src), scale_out=scale_out or _ndr(), role=role)


def _hgx(name: str, device: str, nvlink: float, desc: str, src: str) -> SystemSpec:
    return SystemSpec(name=name, description=desc, source=src,
                      pools={POOL: _pool(device, nvlink, src)})


def hgx_h100() -> SystemSpec:
    return _hgx("hgx-h100", "h100-sxm", 900e9, "8 x H100 SXM on NVSwitch (NVLink 4)",
                "NVIDIA H100 datasheet: NVLink 900 GB/s per GPU; HGX H100 8-GPU board")


def hgx_h200() -> SystemSpec:
    return _hgx("hgx-h200", "h200-sxm", 900e9, "8 x H200 SXM on NVSwitch (NVLink 4)",
                "NVIDIA H200 datasheet: NVLink 900 GB/s per GPU; HGX H200 8-GPU board")


def hgx_h800() -> SystemSpec:
    return _hgx("hgx-h800", "h800-sxm", 400e9, "8 x H800 SXM on NVSwitch (NVLink 400 GB/s)",
                "DeepSeek-V3 technical report 3.2.2: H800 NVLink 400 GB/s per GPU")


def dgx_b200() -> SystemSpec:
    return _hgx("dgx-b200", "b200", 1.8e12, "8 x B200 on NVSwitch (NVLink 5)",
                "NVIDIA DGX B200 datasheet: NVLink 5, 1.8 TB/s per GPU, 8 x 400 Gb/s CX7")


def gb200_nvl72() -> SystemSpec:
    src = ("NVIDIA GB200 NVL72 datasheet: 72 GPUs, 130 TB/s NVLink domain (1.8 TB/s per "
           "GPU); GPU modelled as the b200 preset")
    return SystemSpec(name="gb200-nvl72", source=src,
                      description="GB200 NVL72 rack: 72 Blackwell GPUs in one NVLink 5 domain",
                      pools={POOL: _pool("b200", 1.8e12, src, per_node=72)})


def deepseek_h800_mpft() -> SystemSpec:
    src = ("DeepSeek-V3 technical report 3.2.2 and ISCA 2025 'Insights into DeepSeek-V3' "
           "(multi-plane fat-tree, 8 planes, 400G IB)")
    return SystemSpec(
        name="deepseek-h800-mpft", source=src,
        description=("DeepSeek's cluster: 2,048 H800 in 256 nodes, 8-plane two-tier fat-tree, "
                     "one 400 Gb/s NIC per GPU, NIC i of each node in plane i"),
        pools={POOL: _pool("h800-sxm", 400e9, src, nodes=256, scale_out=_ndr("mpft", 8))})


def pd_h100_h200() -> SystemSpec:
    """Prefill on one 8-GPU H100 node, decode on one 8-GPU H200 node, 400 Gb/s per GPU
    between them (one ConnectX-7 per GPU, RDMA): the KV cache moves over that link."""
    h100 = "NVIDIA H100 datasheet: NVLink 900 GB/s per GPU; HGX H100 8-GPU board"
    h200 = "NVIDIA H200 datasheet: NVLink 900 GB/s per GPU; HGX H200 8-GPU board"
    kv_link = LinkSpec(kind="infiniband", bytes_per_s=NDR_NIC * 0.92, latency_s=3e-6,
                       source=NDR_SOURCE)
    return SystemSpec(
        name="pd-h100-h200", source=f"{h100}; {h200}; link: {NDR_SOURCE}",
        description=("prefill/decode disaggregation: 8 x H100 prefill node, 8 x H200 decode "
                     "node, 400 Gb/s per GPU between them"),
        pools={"prefill": _pool("h100-sxm", 900e9, h100, role="prefill"),
               "decode": _pool("h200-sxm", 900e9, h200, role="decode")},
        links=(PoolLinkSpec(pools=("prefill", "decode"), link=kv_link),),
        placement={"prefill": [{"pool": "prefill"}], "decode": [{"pool": "decode"}]})


def cluster_spec(device: Any, gpus: int = 8) -> SystemSpec:
    """A cluster of ``gpus`` (rounded up to 8-GPU nodes) of ``device`` (see module doc);
    a device without NVLink makes one-device nodes."""
    nvlink = float(device.describe().get("nvlink_bytes_per_s", 0.0) or 0.0)
    per_node = 8 if nvlink > 0 else 1
    nodes = max(1, -(-gpus // per_node))
    up = _nvlink(nvlink, "the device's datasheet NVLink bandwidth") if nvlink > 0 else None
    return SystemSpec(
        name=device.name, description=f"{nodes} node(s) of {per_node} x {device.name}",
        source="codesign default cluster: 8-GPU NVLink nodes, one 400G NIC per GPU, FT2",
        pools={POOL: PoolSpec(device=device.name, nodes=nodes, devices_per_node=per_node,
                              scale_up=up, scale_out=_ndr())})


def cluster_of(device: str | Any, gpus: int = 8) -> PoolNetwork:
    """The pool model of :func:`cluster_spec` (for code that costs ops on one pool)."""
    from codesign.hw import get_device

    dev = get_device(device) if isinstance(device, str) else device
    spec = cluster_spec(dev, gpus)
    return PoolNetwork.from_pool(dev.name, spec.pools[POOL], dev)


def pool_network(system: str | SystemSpec, pool: str | None = None,
                 failed_planes: int = 0) -> PoolNetwork:
    """The network model of one pool of a system preset (the first pool by default), with
    ``failed_planes`` planes out of service."""
    from codesign.hw.families import resolve_device

    spec = SYSTEMS.get(system) if isinstance(system, str) else system
    name = pool or next(iter(spec.pools))
    ps = spec.pools[name]
    if failed_planes and ps.scale_out is not None:
        ps = ps.model_copy(update={"scale_out": ps.scale_out.model_copy(
            update={"failed_planes": failed_planes})})
    return PoolNetwork.from_pool(spec.name if len(spec.pools) == 1 else f"{spec.name}.{name}",
                                 ps, resolve_device(ps.device))


PRESETS = {"hgx-h100": hgx_h100, "hgx-h200": hgx_h200, "hgx-h800": hgx_h800,
           "dgx-b200": dgx_b200, "gb200-nvl72": gb200_nvl72,
           "deepseek-h800-mpft": deepseek_h800_mpft, "pd-h100-h200": pd_h100_h200}

for _name, _factory in PRESETS.items():
    SYSTEMS.register(_name, _factory)
FABRICS.register("default", lambda: PoolNetwork.from_pool)
CLUSTERS.register("default", lambda: cluster_spec)
