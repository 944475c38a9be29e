"""Named systems (registered in ``codesign.hw.SYSTEMS``), each number with its source.

A bare device name (``h100-sxm``) used where a system is expected means a cluster of
HGX-style nodes of that device (:func:`cluster_of`): 8 GPUs per node on the device's NVLink,
one 400 Gb/s NIC per GPU on a two-tier fat-tree of radix-64 switches, as many nodes as the
request needs.
"""

from __future__ import annotations

from typing import Any

from codesign.hw import SYSTEMS
from hwmodels.network.system import ScaleOutSpec, SystemModel, SystemSpec

NDR_NIC = 400e9 / 8  # bytes/s, ConnectX-7 400 Gb/s InfiniBand NDR, one direction
NDR_SOURCE = ("ConnectX-7 400 Gb/s NDR per GPU (NVIDIA DGX H100/B200 datasheets: 8 x 400 Gb/s "
              "OSFP ports); achievable 0.92: estimate (DeepEP reaches 43-47 GB/s of 50 on H800 "
              "+ CX7, deepseek-ai/DeepEP README); fabric latency 3 us: estimate (3 switch hops "
              "of ~0.6 us plus NIC)")


def _ndr(topology: str = "ft2", planes: int = 1) -> ScaleOutSpec:
    return ScaleOutSpec(topology=topology, radix=64, planes=planes, nic_bytes_per_s=NDR_NIC,
                        nics_per_gpu=1, achievable=0.92, latency_s=3e-6, source=NDR_SOURCE)


def _hgx(name: str, device: str, nvlink: float, desc: str, src: str) -> SystemModel:
    return SystemModel(SystemSpec(name=name, description=desc, device=device, nodes=1,
                                  gpus_per_node=8, nvlink_bytes_per_s=nvlink,
                                  scale_out=_ndr(), source=src))


def hgx_h100() -> SystemModel:
    return _hgx("hgx-h100", "h100-sxm", 900e9, "8 x H100 SXM on NVSwitch (NVLink 4)",
                "NVIDIA H100 datasheet: NVLink 900 GB/s per GPU; HGX H100 8-GPU board")


def hgx_h200() -> SystemModel:
    return _hgx("hgx-h200", "h200-sxm", 900e9, "8 x H200 SXM on NVSwitch (NVLink 4)",
                "NVIDIA H200 datasheet: NVLink 900 GB/s per GPU; HGX H200 8-GPU board")


def hgx_h800() -> SystemModel:
    return _hgx("hgx-h800", "h800-sxm", 400e9, "8 x H800 SXM on NVSwitch (NVLink 400 GB/s)",
                "DeepSeek-V3 technical report 3.2.2: H800 NVLink 400 GB/s per GPU")


def dgx_b200() -> SystemModel:
    return _hgx("dgx-b200", "b200", 1.8e12, "8 x B200 on NVSwitch (NVLink 5)",
                "NVIDIA DGX B200 datasheet: NVLink 5, 1.8 TB/s per GPU, 8 x 400 Gb/s CX7")


def gb200_nvl72() -> SystemModel:
    return SystemModel(SystemSpec(
        name="gb200-nvl72", device="b200", nodes=1, gpus_per_node=72, nvlink_bytes_per_s=1.8e12,
        description="GB200 NVL72 rack: 72 Blackwell GPUs in one NVLink 5 domain",
        scale_out=_ndr(), source=("NVIDIA GB200 NVL72 datasheet: 72 GPUs, 130 TB/s NVLink "
                                  "domain (1.8 TB/s per GPU); GPU modelled as the b200 preset")))


def deepseek_h800_mpft() -> SystemModel:
    return SystemModel(SystemSpec(
        name="deepseek-h800-mpft", device="h800-sxm", nodes=256, gpus_per_node=8,
        nvlink_bytes_per_s=400e9, scale_out=_ndr("mpft", planes=8),
        description=("DeepSeek's cluster: 2,048 H800 in 256 nodes, 8-plane two-tier fat-tree, "
                     "one 400 Gb/s NIC per GPU, NIC i of each node in plane i"),
        source=("DeepSeek-V3 technical report 3.2.2 and ISCA 2025 'Insights into DeepSeek-V3' "
                "(multi-plane fat-tree, 8 planes, 400G IB); shared/reference/published.md")))


def cluster_of(device: str | Any, gpus: int = 8) -> SystemModel:
    """A cluster of ``gpus`` (rounded up to 8-GPU nodes) of ``device`` (a name or a device
    model; see module doc)."""
    from codesign.hw import get_device

    dev = get_device(device) if isinstance(device, str) else device
    device = dev.name
    nvlink = float(dev.describe().get("nvlink_bytes_per_s", 0.0))
    per_node = 8 if nvlink > 0 else 1
    nodes = max(1, -(-gpus // per_node))
    return SystemModel(SystemSpec(
        name=device, device=device, nodes=nodes, gpus_per_node=per_node,
        nvlink_bytes_per_s=nvlink, scale_out=_ndr(),
        description=f"{nodes} node(s) of {per_node} x {device}",
        source="codesign default cluster: 8-GPU NVLink nodes, one 400G NIC per GPU, FT2"), dev)


PRESETS = {"hgx-h100": hgx_h100, "hgx-h200": hgx_h200, "hgx-h800": hgx_h800,
           "dgx-b200": dgx_b200, "gb200-nvl72": gb200_nvl72,
           "deepseek-h800-mpft": deepseek_h800_mpft}

for _name, _factory in PRESETS.items():
    SYSTEMS.register(_name, _factory)
