"""CostSensitiveDetMetric.dump_json: the JSON format (pinned to the bytes
written before it became atomic) and the atomic write."""
import os

import numpy as np
import pytest
from metric_samples import COST_SPEC

from csdet.evaluation.metrics import CostMetric


def test_format_nan_as_null_arrays_as_lists(tmp_path):
    metric = CostMetric(**COST_SPEC, output_dir=str(tmp_path / 'out'))
    path = metric.dump_json(
        dict(cost=np.float32(0.5), missing=float('nan'), inf=np.inf,
             counts=np.arange(2), name='a'), 'metric.json')
    assert path == str(tmp_path / 'out' / 'metric.json')
    assert (tmp_path / 'out' / 'metric.json').read_text() == (
        '{\n  "cost": 0.5,\n  "missing": null,\n  "inf": null,\n'
        '  "counts": [\n    0,\n    1\n  ],\n  "name": "a"\n}')
    assert os.listdir(tmp_path / 'out') == ['metric.json']


def test_failed_dump_keeps_the_previous_file(tmp_path):
    metric = CostMetric(**COST_SPEC, output_dir=str(tmp_path))
    metric.dump_json(dict(cost=1.0), 'metric.json')
    before = (tmp_path / 'metric.json').read_bytes()
    with pytest.raises(TypeError, match='not JSON serializable'):
        metric.dump_json(dict(cost=2.0, bad=object()), 'metric.json')
    assert (tmp_path / 'metric.json').read_bytes() == before
    assert os.listdir(tmp_path) == ['metric.json']

