"""The bitmap of chunk ids a vector index holds behaves as the Python set it replaced."""

import random

import numpy as np
import pytest

from desktop_search.index.hnsw import LabelSet


def test_label_set_agrees_with_a_python_set_under_random_updates():
    rng = random.Random(3)
    labels, model = LabelSet(), set()
    for _ in range(300):
        ids = [rng.randrange(0, 5000) for _ in range(rng.randrange(0, 40))]
        if rng.random() < 0.6:
            labels.update(np.array(ids, dtype=np.int64))
            model.update(ids)
        else:
            labels.discard_many(ids)
            model.difference_update(ids)
        assert len(labels) == len(model)
    assert labels.array().tolist() == sorted(model)
    probe = [rng.randrange(0, 9000) for _ in range(500)]
    assert labels.holds(probe).tolist() == [p in model for p in probe]
    assert all((p in labels) == (p in model) for p in probe)
    assert -1 not in labels and 10**9 not in labels


def test_label_set_refuses_negative_ids_and_ignores_unknown_ones_on_discard():
    labels = LabelSet([1, 2, 3])
    with pytest.raises(ValueError):
        labels.update([-4])
    labels.discard_many([10**6, 2])
    assert labels.array().tolist() == [1, 3] and len(labels) == 2
