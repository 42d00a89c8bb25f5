"""BayesRelabelMetric: relabels, delegates, reports under its own prefix."""
import pytest
import torch
from metric_samples import CLASSES, COST_SPEC, example_samples

from csdet.evaluation.metrics import BayesRelabelMetric, F1Metric


def test_relabel_copies_and_changes_only_labels():
    wrapper = BayesRelabelMetric(metric=F1Metric(), **COST_SPEC)
    wrapper.dataset_meta = dict(classes=CLASSES)
    sample = example_samples()[0]
    relabelled = wrapper.relabel(sample)
    # D0 a->b, D1 a->b, D2 b->c, D3 c (see metric_samples.py)
    assert relabelled['pred_instances']['labels'].tolist() == [1, 1, 2, 2]
    assert relabelled['pred_instances']['labels'].dtype == torch.int64
    assert sample['pred_instances']['labels'].tolist() == [0, 0, 1, 2]
    assert torch.equal(relabelled['pred_instances']['scores'],
                       sample['pred_instances']['scores'])
    assert relabelled['gt_instances'] is sample['gt_instances']


def test_prefix_and_dataset_meta_reach_the_wrapped_metric():
    inner = F1Metric()
    wrapper = BayesRelabelMetric(metric=inner, **COST_SPEC)
    assert wrapper.prefix == inner.prefix == 'bayes_f1'
    wrapper.dataset_meta = dict(classes=CLASSES)
    assert inner.dataset_meta == dict(classes=CLASSES)
    named = BayesRelabelMetric(
        metric=dict(type='F1Metric'), prefix='posthoc', **COST_SPEC)
    assert named.metric.prefix == 'posthoc'


def test_wrapped_f1_equals_f1_with_bayes_relabel_switch():
    wrapper = BayesRelabelMetric(metric=F1Metric(), **COST_SPEC)
    switch = F1Metric(bayes_relabel=True, **COST_SPEC)
    for metric in (wrapper, switch):
        metric.dataset_meta = dict(classes=CLASSES)
        metric.process({}, example_samples())
    wrapped = wrapper.evaluate(3)
    direct = switch.evaluate(3)
    # 2/9 by hand (test_f1_metric.test_bayes_relabel_by_hand)
    assert wrapped['bayes_f1/f1'] == pytest.approx(2 / 9)
    assert wrapped['bayes_f1/f1'] == pytest.approx(direct['f1/f1'])


def test_wrapped_object_must_be_a_metric():
    with pytest.raises(TypeError, match='BaseMetric'):
        BayesRelabelMetric(metric=object(), **COST_SPEC)
