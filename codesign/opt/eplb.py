"""DeepSeek's expert-parallel load balancer (EPLB), re-implemented in NumPy.

A faithful port of ``deepseek-ai/EPLB`` ``eplb.py`` (``balanced_packing``,
``replicate_experts``, ``rebalance_experts_hierarchical``, ``rebalance_experts``) without torch,
used as the baseline of :func:`codesign.opt.place_experts`. It follows the original step by
step, including its arithmetic in float32 (``weight.float()``), its tie rules (a stable
descending sort; ``argmax`` and ``min`` take the lowest index on ties) and its fast path when
every pack holds one item. It reproduces the worked example of the EPLB README exactly (see
``tests/test_opt_placement.py``).

Conventions (as in EPLB): ``weight`` is ``[layers, logical experts]`` of loads (tokens);
physical slot ``p`` lives on GPU ``p // (num_replicas // num_gpus)``; an expert's load splits
evenly over its replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "EplbResult",
    "balanced_packing",
    "gpu_loads",
    "rebalance_experts",
    "rebalance_experts_hierarchical",
    "replicate_experts",
]


@dataclass(frozen=True)
class EplbResult:
    """Output of :func:`rebalance_experts`, as EPLB returns it.

    Attributes:
        phy2log: ``[layers, num_replicas]`` logical expert of each physical slot.
        log2phy: ``[layers, experts, max replicas]`` physical slots of each expert, ``-1`` pads.
        logcnt: ``[layers, experts]`` replica count of each expert.
        hierarchical: whether the hierarchical policy ran (``num_groups % num_nodes == 0``).
    """

    phy2log: np.ndarray
    log2phy: np.ndarray
    logcnt: np.ndarray
    hierarchical: bool


def _inverse(perm: np.ndarray) -> np.ndarray:
    """Row-wise inverse permutation: ``inv[i, perm[i, j]] = j``."""
    inv = np.empty_like(perm)
    rows = np.arange(perm.shape[0])[:, None]
    inv[rows, perm] = np.arange(perm.shape[1])[None, :]
    return inv


def balanced_packing(weight: np.ndarray, num_packs: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack ``n`` weighted items into ``num_packs`` packs of exactly ``n / num_packs`` items.

    Greedy, heaviest item first, each to the lightest pack that still has room (ties: lowest
    pack index). ``weight`` is ``[X, n]``; returns ``(pack_index, rank_in_pack)``, both
    ``[X, n]`` int64. With one item per pack, item ``i`` goes to pack ``i`` (EPLB's fast path).
    """
    num_layers, num_items = weight.shape
    assert num_items % num_packs == 0
    per_pack = num_items // num_packs
    if per_pack == 1:
        pack_index = np.broadcast_to(np.arange(num_items, dtype=np.int64), weight.shape).copy()
        return pack_index, np.zeros(weight.shape, dtype=np.int64)
    w32 = weight.astype(np.float32)
    order = np.argsort(-w32, axis=-1, kind="stable")  # torch's descending sort on CPU
    pack_index = np.full(weight.shape, -1, dtype=np.int64)
    rank_in_pack = np.full(weight.shape, -1, dtype=np.int64)
    for i in range(num_layers):
        pack_weights = [np.float32(0.0)] * num_packs
        pack_items = [0] * num_packs
        for item in order[i]:
            pack = min((p for p in range(num_packs) if pack_items[p] < per_pack),
                       key=pack_weights.__getitem__)
            pack_index[i, item] = pack
            rank_in_pack[i, item] = pack_items[pack]
            pack_weights[pack] = np.float32(pack_weights[pack] + w32[i, item])
            pack_items[pack] += 1
    return pack_index, rank_in_pack


def replicate_experts(weight: np.ndarray, num_phy: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replicate ``num_log`` experts to ``num_phy`` replicas, one extra replica at a time to
    the expert with the highest load per replica (ties: lowest index).

    ``weight`` is ``[X, num_log]``; returns ``(phy2log [X, num_phy], rank [X, num_phy],
    logcnt [X, num_log])``.
    """
    n, num_log = weight.shape
    assert num_phy >= num_log
    w32 = weight.astype(np.float32)
    phy2log = np.tile(np.arange(num_phy, dtype=np.int64), (n, 1))
    rank = np.zeros((n, num_phy), dtype=np.int64)
    logcnt = np.ones((n, num_log), dtype=np.int64)
    rows = np.arange(n)
    for i in range(num_log, num_phy):
        best = np.argmax(w32 / logcnt.astype(np.float32), axis=-1)
        phy2log[:, i] = best
        rank[:, i] = logcnt[rows, best]
        logcnt[rows, best] += 1
    return phy2log, rank, logcnt


def rebalance_experts_hierarchical(
    weight: np.ndarray, num_physical_experts: int, num_groups: int, num_nodes: int,
    num_gpus: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EPLB's hierarchical policy: groups to nodes, replicas within nodes, replicas to GPUs.

    Returns ``(phy2log, phyrank, logcnt)`` as EPLB's function of the same name.
    """
    num_layers, num_logical = weight.shape
    assert num_logical % num_groups == 0
    group_size = num_logical // num_groups
    assert num_groups % num_nodes == 0
    groups_per_node = num_groups // num_nodes
    assert num_gpus % num_nodes == 0
    assert num_physical_experts % num_gpus == 0
    phy_per_gpu = num_physical_experts // num_gpus
    w32 = weight.astype(np.float32)

    # Step 1: pack groups to nodes
    tokens_per_group = w32.reshape(num_layers, num_groups, group_size).sum(-1, dtype=np.float32)
    group_pack, group_rank = balanced_packing(tokens_per_group, num_nodes)
    log2mlog = (((group_pack * groups_per_node + group_rank) * group_size)[:, :, None]
                + np.arange(group_size, dtype=np.int64)).reshape(num_layers, -1)
    mlog2log = _inverse(log2mlog)

    # Step 2: replicate experts within nodes
    per_node = num_logical // num_nodes
    tokens_per_mlog = np.take_along_axis(w32, mlog2log, -1).reshape(-1, per_node)
    phy2mlog, phyrank, mlogcnt = replicate_experts(tokens_per_mlog,
                                                   num_physical_experts // num_nodes)

    # Step 3: pack physical experts to GPUs
    tokens_per_phy = np.take_along_axis(tokens_per_mlog / mlogcnt.astype(np.float32),
                                        phy2mlog, -1)
    pack_index, rank_in_pack = balanced_packing(tokens_per_phy, num_gpus // num_nodes)
    phy2pphy = pack_index * phy_per_gpu + rank_in_pack
    pphy2phy = _inverse(phy2pphy)

    pphy2mlog = np.take_along_axis(phy2mlog, pphy2phy, -1)
    offsets = np.arange(0, num_logical, per_node, dtype=np.int64).reshape(1, -1, 1)
    pphy2mlog = (pphy2mlog.reshape(num_layers, num_nodes, -1) + offsets).reshape(num_layers, -1)
    pphy2log = np.take_along_axis(mlog2log, pphy2mlog, -1)
    pphyrank = np.take_along_axis(phyrank, pphy2phy, -1).reshape(num_layers, -1)
    logcnt = np.take_along_axis(mlogcnt.reshape(num_layers, -1), log2mlog, -1)
    return pphy2log, pphyrank, logcnt


def rebalance_experts(weight: np.ndarray | list[list[float]], num_replicas: int,
                      num_groups: int, num_nodes: int, num_gpus: int) -> EplbResult:
    """EPLB's entry point: hierarchical policy when ``num_groups % num_nodes == 0``, else the
    global one (hierarchical with one group and one node).

    Args:
        weight: ``[layers, experts]`` loads (tokens routed to each logical expert).
        num_replicas: physical expert slots in all, a multiple of ``num_gpus``.
        num_groups: expert groups (node-limited routing), dividing the experts.
        num_nodes: server nodes; ``num_gpus`` must be a multiple.
        num_gpus: GPUs in the expert-parallel group.
    """
    w = np.asarray(weight, dtype=np.float32)
    num_layers, num_logical = w.shape
    hierarchical = num_groups % num_nodes == 0
    if hierarchical:
        phy2log, phyrank, logcnt = rebalance_experts_hierarchical(
            w, num_replicas, num_groups, num_nodes, num_gpus)
    else:
        phy2log, phyrank, logcnt = rebalance_experts_hierarchical(w, num_replicas, 1, 1,
                                                                  num_gpus)
    maxcnt = int(logcnt.max())
    log2phy = np.full((num_layers, num_logical * maxcnt), -1, dtype=np.int64)
    rows = np.arange(num_layers)[:, None]
    log2phy[rows, phy2log * maxcnt + phyrank] = np.arange(num_replicas, dtype=np.int64)
    return EplbResult(phy2log=phy2log, log2phy=log2phy.reshape(num_layers, num_logical, maxcnt),
                      logcnt=logcnt, hierarchical=hierarchical)


def gpu_loads(weight: np.ndarray | list[float], phy2log: np.ndarray | list[int],
              num_gpus: int) -> np.ndarray:
    """Load of each GPU for one layer: the sum over its slots of expert load / replica count.

    ``weight`` is ``[experts]``, ``phy2log`` ``[slots]`` (slot ``p`` on GPU
    ``p // (slots / num_gpus)``); float64 arithmetic.
    """
    w = np.asarray(weight, dtype=np.float64)
    p2l = np.asarray(phy2log, dtype=np.int64)
    cnt = np.bincount(p2l, minlength=w.size)
    per_slot = w[p2l] / cnt[p2l]
    return per_slot.reshape(num_gpus, -1).sum(-1)
