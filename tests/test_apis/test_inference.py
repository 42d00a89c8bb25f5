"""csdet.apis.DefectDetector: paths, arrays, grey, batches, decisions."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from csdet.apis import DefectDetector, ImageResult
from csdet.utils.runner_setup import UserInputError


@pytest.fixture(scope='module')
def detector(quick_checkpoint):
    return DefectDetector(quick_checkpoint['config'],
                          quick_checkpoint['checkpoint'], device='cpu',
                          cfg_options=quick_checkpoint['options'])


def image_paths(synthetic_set):
    return sorted(synthetic_set['images'].glob('*.png'))


def test_path_array_and_grey_give_the_same_detections(detector,
                                                      synthetic_set):
    path = image_paths(synthetic_set)[0]
    bgr = cv2.imread(str(path))
    by_path = detector(str(path))
    by_array = detector(bgr)
    by_grey = detector(bgr[..., 0])  # the synthetic images are grey
    assert isinstance(by_path, ImageResult)
    for other in (by_array, by_grey):
        np.testing.assert_allclose(other.bboxes, by_path.bboxes, atol=1e-4)
        np.testing.assert_allclose(other.scores, by_path.scores, atol=1e-6)
    assert by_path.image_size == (96, 96)
    num = len(by_path.scores)
    assert by_path.bboxes.shape == (num, 4)
    assert by_path.cls_probs.shape == (num, 6)
    assert by_path.decisions.shape == by_path.expected_costs.shape == (num, )
    assert ((by_path.decisions >= 0) & (by_path.decisions <= 6)).all()
    # boxes are in original pixels
    assert (by_path.bboxes >= -1).all() and (by_path.bboxes <= 97).all()


def test_a_batch_equals_one_by_one(detector, synthetic_set):
    paths = [str(p) for p in image_paths(synthetic_set)[:3]]
    batched = detector(paths, batch_size=3)
    single = [detector(p) for p in paths]
    assert [r.source for r in batched] == paths
    for one, other in zip(batched, single):
        np.testing.assert_allclose(one.scores, other.scores, atol=1e-5)


def test_yolov5_runs_fused_unless_the_config_says_no(detector,
                                                     quick_checkpoint,
                                                     synthetic_set):
    unfused = DefectDetector(
        quick_checkpoint['config'], quick_checkpoint['checkpoint'],
        device='cpu', cfg_options={**quick_checkpoint['options'],
                                   'model.test_cfg.fuse_conv_bn': False})
    assert detector.backend.model.is_fused
    assert not unfused.backend.model.is_fused
    path = str(image_paths(synthetic_set)[0])
    fused_result, unfused_result = detector(path), unfused(path)
    assert len(fused_result.scores) == len(unfused_result.scores) > 0
    np.testing.assert_allclose(fused_result.scores, unfused_result.scores,
                               atol=1e-5)
    np.testing.assert_allclose(fused_result.bboxes, unfused_result.bboxes,
                               atol=1e-3)


def test_argmax_decision_follows_the_threshold(quick_checkpoint,
                                               synthetic_set):
    detector = DefectDetector(quick_checkpoint['config'],
                              quick_checkpoint['checkpoint'], device='cpu',
                              decision='argmax', score_thr=0.0,
                              cfg_options=quick_checkpoint['options'])
    result = detector(str(image_paths(synthetic_set)[0]))
    np.testing.assert_array_equal(result.decisions, result.labels)
    entries = result.to_coco(image_id=7)
    assert len(entries) == len(result.scores)
    first = entries[0]
    assert first['image_id'] == 7 and len(first['bbox']) == 4
    assert first['decision'] == result.classes[result.labels[0]]


def test_missing_checkpoint_and_bad_decision_are_clear(quick_checkpoint,
                                                       tmp_path):
    with pytest.raises(UserInputError, match='checkpoint not found'):
        DefectDetector(quick_checkpoint['config'], str(tmp_path / 'x.pth'),
                       cfg_options=quick_checkpoint['options'])
    with pytest.raises(UserInputError, match='--decision'):
        DefectDetector(quick_checkpoint['config'],
                       quick_checkpoint['checkpoint'],
                       decision=str(tmp_path / 'none.json'),
                       cfg_options=quick_checkpoint['options'])


def test_bad_arrays_are_refused(detector):
    with pytest.raises(ValueError, match='channels'):
        detector(np.zeros((8, 8, 4), np.uint8))


def test_works_in_a_fresh_process(quick_checkpoint, synthetic_set):
    """Nothing imported first: csdet sets up its registries itself."""
    code = (
        'from csdet.apis import DefectDetector\n'
        f"d = DefectDetector({quick_checkpoint['config']!r}, "
        f"{quick_checkpoint['checkpoint']!r}, device='cpu', "
        f"cfg_options={quick_checkpoint['options']!r})\n"
        f"r = d({str(image_paths(synthetic_set)[0])!r})\n"
        'print(len(r.scores), r.cls_probs.shape[1])\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == '6'


def test_onnx_file_gives_the_pytorch_detections(repo_root, quick_checkpoint,
                                                synthetic_set, tmp_path):
    onnx_path = tmp_path / 'model.onnx'
    options = [f'{key}={value}'
               for key, value in quick_checkpoint['options'].items()]
    export = subprocess.run(
        [sys.executable, 'tools/export.py', quick_checkpoint['config'],
         quick_checkpoint['checkpoint'], '--format', 'onnx', '--out',
         str(onnx_path), '--dynamic-batch', '--cfg-options', *options],
        cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert export.returncode == 0, export.stderr[-2000:]
    kwargs = dict(device='cpu', cfg_options=quick_checkpoint['options'])
    torch_model = DefectDetector(quick_checkpoint['config'],
                                 quick_checkpoint['checkpoint'], **kwargs)
    onnx_model = DefectDetector(quick_checkpoint['config'], str(onnx_path),
                                **kwargs)
    paths = [str(p) for p in image_paths(synthetic_set)[:3]]
    for one, other in zip(torch_model(paths), onnx_model(paths,
                                                         batch_size=3)):
        # An untrained model scores hundreds of boxes alike near the
        # 0.001 threshold, where NMS ties may fall either way: compare the
        # ten best (exact parity is tests/test_deploy's, on NEU-DET).
        assert abs(len(one.scores) - len(other.scores)) <= 0.1 * len(
            one.scores)
        top = 10
        np.testing.assert_allclose(np.sort(other.scores)[::-1][:top],
                                   np.sort(one.scores)[::-1][:top],
                                   rtol=1e-3)
        assert other.cls_probs.shape[1] == one.cls_probs.shape[1] == 6
        assert set(other.decisions.tolist()) <= set(range(7))


def test_dear_misses_make_min_risk_report_more(quick_checkpoint,
                                               synthetic_set):
    """A miss priced far above a false alarm turns 'no defect' decisions
    into defect reports, never the other way round."""
    path = str(image_paths(synthetic_set)[0])
    kwargs = dict(device='cpu', decision='min-risk')
    cheap = DefectDetector(quick_checkpoint['config'],
                           quick_checkpoint['checkpoint'],
                           cfg_options=quick_checkpoint['options'],
                           **kwargs)(path)
    dear = DefectDetector(quick_checkpoint['config'],
                          quick_checkpoint['checkpoint'],
                          cfg_options=dict(quick_checkpoint['options'], **{
                              'cost.missed_cost': 1e6,
                              'cost.false_alarm_cost': 1e-6}),
                          **kwargs)(path)
    assert len(dear.defects) > len(cheap.defects)
    assert set(cheap.defects) <= set(dear.defects)
