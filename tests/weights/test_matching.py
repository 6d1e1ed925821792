"""Name and structure matching, and convert's name assignment, on fused and deduplicated names."""

from __future__ import annotations

from typing import Any

import pytest

import tflite2keras as t2k
from tflite2keras.tflite.names import assign_names
from tflite2keras.weights.matching import match_layers


def test_assign_names_gives_each_op_a_name_only_it_carries() -> None:
    # pose_landmark_full: one deduplicated kernel names depthwise_conv2d_20 in three ops
    candidates = {178: ["dw_20", "dw_15", "bn_46"], 181: ["dw_20", "dw_16", "bn_47"], 236: ["dw_20", "bn_55"]}
    assert assign_names(candidates) == {178: "dw_15", 181: "dw_16", 236: "dw_20"}


def test_assign_names_prefers_rank_when_unique() -> None:
    assert assign_names({1: ["conv2d", "model"], 2: ["conv2d_1", "model"]}) == {1: "conv2d", 2: "conv2d_1"}


def _assign_names_by_definition(candidates: dict[int, list[str]]) -> dict[int, str]:
    """The rule as the docstring states it, one pair at a time: the smallest (ops still
    unnamed that list the name, its rank in the op's list, op index, name) over every open pair."""
    out: dict[int, str] = {}
    while True:
        live = lambda name: sum(name in names for op, names in candidates.items() if op not in out)  # noqa: E731
        pairs = [(live(n), names.index(n), op, n) for op, names in candidates.items() if op not in out
                 for n in names if n not in out.values()]
        if not pairs:
            return out
        _, _, op, name = min(pairs)
        out[op] = name


def test_assign_names_follows_its_definition_on_random_candidates() -> None:
    """The heap keeps one entry per name, so a name shared by every op (a model scope) costs
    no more than any other: the order must still be the defined one."""
    import random

    rng = random.Random(7)
    for _ in range(400):
        pool = [f"n{i}" for i in range(rng.randint(1, 9))]
        candidates = {op: rng.sample(pool, rng.randint(1, min(4, len(pool))))
                      for op in rng.sample(range(40), rng.randint(1, 12))}
        assert assign_names(candidates) == _assign_names_by_definition(candidates), candidates


def test_assign_names_with_a_scope_every_op_shares() -> None:
    candidates = {i: [f"conv_{i}", "nasnet_mobile_1", "separable_conv2d"] for i in range(2000)}
    assert assign_names(candidates) == {i: f"conv_{i}" for i in range(2000)}


def test_original_names_pair_one_to_one_on_pose(corpus_model: Any) -> None:
    """A model converted from pose_landmark_full pairs every layer with the op it came from."""
    path = corpus_model("pose_landmark_full")
    model = t2k.convert(path)
    matches, unmatched, unused = match_layers(model, t2k.read(path), None, None, ())
    assert not unmatched and not unused
    assert all(m.rule == "name" for m in matches)
    assert {m.layer.name: m.op.index for m in matches}["depthwise_conv2d_20"] == 236


@pytest.mark.parametrize("names", ["keras", "readable"])
def test_structure_follows_the_graph(names: str, corpus_model: Any) -> None:
    path = corpus_model("face_detection_short_range")
    model = t2k.zoo.blazeface(names=names)
    matches, unmatched, unused = match_layers(model, t2k.read(path), t2k.MappingTable("none"), None, ())
    assert not unmatched and not unused
    if names == "readable":
        assert {m.rule for m in matches} == {"structure"}
