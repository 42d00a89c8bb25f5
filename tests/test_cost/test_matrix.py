"""Tests for csdet.cost.matrix: paper cost matrices, files, refusals."""
import json
import warnings

import numpy as np
import pytest

from csdet.cost.matrix import (PAPER_GROUPS, build_cost_matrix,
                               load_cost_matrix, normalize_cost_matrix,
                               resolve_cost_matrix, validate_cost_matrix)
from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
NEU_POSITIVE = ['patches', 'pitted_surface', 'inclusion', 'scratches']
# crazing (0) and rolled-in_scale (4) are the negative classes.
IS_POSITIVE = np.array([False, True, True, True, False, True])


def expected_paper_matrix(coefficients):
    """Paper Eq. 8 written out entry by entry."""
    lambda_np, lambda_pn, lambda_nn, lambda_pp = coefficients
    matrix = np.zeros((6, 6))
    for true in range(6):
        for pred in range(6):
            if true == pred:
                continue
            if not IS_POSITIVE[true] and IS_POSITIVE[pred]:
                matrix[true, pred] = lambda_np
            elif IS_POSITIVE[true] and not IS_POSITIVE[pred]:
                matrix[true, pred] = lambda_pn
            elif not IS_POSITIVE[true]:
                matrix[true, pred] = lambda_nn
            else:
                matrix[true, pred] = lambda_pp
    return matrix


def test_paper_groups_are_table_1():
    assert PAPER_GROUPS == {
        'a': (200, 20, 2, 1),
        'b': (675, 45, 3, 1),
        'c': (1600, 80, 4, 1),
        'd': (3125, 125, 5, 1)
    }
    for k, group in zip(range(2, 6), 'abcd'):
        assert PAPER_GROUPS[group] == (25 * k**3, 5 * k**2, k, 1)


@pytest.mark.parametrize('group', 'abcd')
def test_neu_paper_groups_exact_entries(group):
    raw = build_cost_matrix(
        NEU_CLASSES, NEU_POSITIVE, PAPER_GROUPS[group], normalize='none')
    np.testing.assert_array_equal(raw,
                                  expected_paper_matrix(PAPER_GROUPS[group]))
    normalized = build_cost_matrix(NEU_CLASSES, NEU_POSITIVE,
                                   PAPER_GROUPS[group])  # default 'max'
    np.testing.assert_allclose(
        normalized, raw / PAPER_GROUPS[group][0], rtol=0, atol=1e-15)


def test_neu_group_a_spot_values():
    matrix = build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, normalize='none')
    crazing, inclusion, patches, rolled, scratches = 0, 1, 2, 4, 5
    assert matrix[crazing, patches] == 200  # N -> P: false acceptance
    assert matrix[patches, rolled] == 20  # P -> N: false rejection
    assert matrix[crazing, rolled] == 2  # N -> N
    assert matrix[inclusion, scratches] == 1  # P -> P
    assert (np.diag(matrix) == 0).all()
    assert matrix.dtype == np.float64


def test_normalize_modes():
    raw = build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, normalize='none')
    by_max = build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, normalize='max')
    by_sum = build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, normalize='sum')
    assert by_max.max() == 1.0 and by_max[0, 2] == 1.0
    assert by_sum.sum() == pytest.approx(1.0, abs=1e-12)
    # 2 negative rows x 4 positive cols x 200 + 4 x 2 x 20 + 2 x 1 x 2
    # + 4 x 3 x 1 = 1776
    assert raw.sum() == 1776
    assert by_sum[0, 2] == pytest.approx(200 / 1776, rel=1e-12)
    # Both keep every ratio between entries.
    mask = raw > 0
    np.testing.assert_allclose(by_max[mask] / by_sum[mask],
                               np.full(mask.sum(), 1776 / 200))
    np.testing.assert_array_equal(
        normalize_cost_matrix(raw, None), raw)
    with pytest.raises(ValueError, match='normalize must be one of'):
        normalize_cost_matrix(raw, 'row_max')
    with pytest.raises(ValueError, match='all zero'):
        normalize_cost_matrix(np.zeros((3, 3)), 'max')


def test_single_positive_class_given_as_string():
    matrix = build_cost_matrix(('a', 'b', 'c'), 'b', normalize='none')
    np.testing.assert_array_equal(
        matrix, [[0, 200, 2], [20, 0, 20], [2, 200, 0]])


@pytest.mark.parametrize('classes, positives, message', [
    (NEU_CLASSES, ['patches', 'holes'], r"\['holes'\] are not in classes"),
    (NEU_CLASSES, ['patches', 'patches'], 'duplicate class names'),
    (('a', 'b', 'a'), ['a'], 'classes has duplicate'),
    (NEU_CLASSES, [], 'makes no class positive'),
    (NEU_CLASSES, list(NEU_CLASSES), 'makes every class positive'),
    ((), [], 'classes is empty'),
])
def test_build_refusals(classes, positives, message):
    with pytest.raises(ValueError, match=message):
        build_cost_matrix(classes, positives)


def test_class_names_must_be_strings():
    with pytest.raises(TypeError, match='class names'):
        build_cost_matrix(('a', 'b'), [0])
    with pytest.raises(TypeError, match='list of class names'):
        build_cost_matrix('abc', ['a'])


def test_degenerate_split_allowed_on_request():
    classes = ('a', 'b', 'c')
    all_positive = build_cost_matrix(
        classes, list(classes), normalize='none', allow_degenerate=True)
    none_positive = build_cost_matrix(
        classes, [], normalize='none', allow_degenerate=True)
    off_diagonal = 1 - np.eye(3)
    np.testing.assert_array_equal(all_positive, off_diagonal * 1)  # PP
    np.testing.assert_array_equal(none_positive, off_diagonal * 2)  # NN


@pytest.mark.parametrize('coefficients, message', [
    ((200, 20, 2), 'four numbers'),
    ((200, 20, -2, 1), 'non-negative'),
    ((200, float('inf'), 2, 1), 'finite'),
    ((200, 'x', 2, 1), 'four numbers'),
])
def test_bad_coefficients(coefficients, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, coefficients)


def test_coefficient_order_only_warns():
    with pytest.warns(UserWarning, match='lambda_NP > lambda_PN'):
        matrix = build_cost_matrix(
            NEU_CLASSES, NEU_POSITIVE, (1, 2, 3, 4), normalize='none')
    assert matrix[0, 2] == 1 and matrix[2, 0] == 2  # built as given
    with pytest.warns(UserWarning):
        build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, (200, 20, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build_cost_matrix(NEU_CLASSES, NEU_POSITIVE, PAPER_GROUPS['d'])


@pytest.mark.parametrize('matrix, message', [
    ([[0, 1], [1]], 'list of equal-length rows'),
    ([[0, 1, 2], [1, 0, 2]], 'square'),
    ([1, 2, 3], 'square'),
    ([[0, -1], [1, 0]], r'negative entries at \(row, col\) \[\[0, 1\]\]'),
    ([[0, 1], [1, 0.5]], 'non-zero diagonal'),
    ([[0, float('nan')], [1, 0]], 'NaN/inf'),
    ([[0, 1], [float('inf'), 0]], 'NaN/inf'),
    ([['0', 'x'], [1, 0]], 'matrix of numbers'),
])
def test_validate_refusals(matrix, message):
    with pytest.raises(ValueError, match=message):
        validate_cost_matrix(matrix)


def test_validate_shape_against_num_classes():
    matrix = validate_cost_matrix([[0, 1], [2, 0]], num_classes=2)
    assert matrix.dtype == np.float64
    with pytest.raises(ValueError, match='there are 3 classes'):
        validate_cost_matrix([[0, 1], [2, 0]], num_classes=3)


def test_validate_accepts_tensor():
    torch = pytest.importorskip('torch')
    matrix = validate_cost_matrix(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    np.testing.assert_array_equal(matrix, [[0, 1], [2, 0]])


MATRIX_3 = [[0, 5, 1], [2, 0, 1], [3, 4, 0]]


def test_load_json_list_and_object(tmp_path):
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps(MATRIX_3))
    named = tmp_path / 'named.json'
    named.write_text(json.dumps({'classes': ['x', 'y', 'z'],
                                 'matrix': MATRIX_3}))
    for path in (plain, named, str(named)):
        np.testing.assert_array_equal(load_cost_matrix(path), MATRIX_3)
    np.testing.assert_array_equal(
        load_cost_matrix(named, classes=['x', 'y', 'z']), MATRIX_3)
    with pytest.raises(ValueError, match='order must match'):
        load_cost_matrix(named, classes=['y', 'x', 'z'])
    with pytest.raises(ValueError, match=r'shape \(3, 3\) but there are 4'):
        load_cost_matrix(plain, num_classes=4)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'costs': MATRIX_3}))
    with pytest.raises(ValueError, match='"matrix" key'):
        load_cost_matrix(bad)
    broken = tmp_path / 'broken.json'
    broken.write_text('[[0, 1], [1, 0]')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_cost_matrix(broken)


def test_load_json_class_count_mismatch(tmp_path):
    path = tmp_path / 'mismatch.json'
    path.write_text(json.dumps({'classes': ['x', 'y'], 'matrix': MATRIX_3}))
    with pytest.raises(ValueError, match='2 class names but the matrix is 3'):
        load_cost_matrix(path)


def test_load_csv_with_and_without_header(tmp_path):
    plain = tmp_path / 'plain.csv'
    plain.write_text('0,5,1\n2,0,1\n\n3,4,0\n')
    header = tmp_path / 'header.csv'
    header.write_text('x, y, z\n0, 5, 1\n2, 0, 1\n3, 4, 0\n')
    np.testing.assert_array_equal(load_cost_matrix(plain), MATRIX_3)
    np.testing.assert_array_equal(
        load_cost_matrix(header, classes=('x', 'y', 'z')), MATRIX_3)
    with pytest.raises(ValueError, match="lists classes \\['x', 'y', 'z'\\]"):
        load_cost_matrix(header, classes=('x', 'y', 'w'))
    bad = tmp_path / 'bad.csv'
    bad.write_text('0,5,1\n2,zero,1\n3,4,0\n')
    with pytest.raises(ValueError, match='row 2 has non-numeric'):
        load_cost_matrix(bad)
    negative = tmp_path / 'negative.csv'
    negative.write_text('0,-5\n2,0\n')
    with pytest.raises(ValueError, match=str(negative)):
        load_cost_matrix(negative)


def test_load_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        load_cost_matrix(tmp_path / 'missing.json')
    other = tmp_path / 'costs.txt'
    other.write_text('0 1\n1 0\n')
    with pytest.raises(ValueError, match='use .json or .csv'):
        load_cost_matrix(other)


def test_resolve_class_spec():
    default = resolve_cost_matrix(classes=NEU_CLASSES,
                                  positive_classes=NEU_POSITIVE)
    np.testing.assert_array_equal(
        default, build_cost_matrix(NEU_CLASSES, NEU_POSITIVE))
    group_c = resolve_cost_matrix(
        classes=NEU_CLASSES, positive_classes=NEU_POSITIVE, group='c',
        normalize='none')
    np.testing.assert_array_equal(group_c,
                                  expected_paper_matrix(PAPER_GROUPS['c']))
    custom = resolve_cost_matrix(
        classes=NEU_CLASSES, positive_classes=NEU_POSITIVE,
        coefficients=(10, 5, 2, 1), normalize='none')
    assert custom[0, 2] == 10 and custom[2, 0] == 5


def test_resolve_explicit_matrix(tmp_path):
    np.testing.assert_array_equal(
        resolve_cost_matrix(MATRIX_3, normalize='none'), MATRIX_3)
    np.testing.assert_allclose(
        resolve_cost_matrix(MATRIX_3), np.asarray(MATRIX_3) / 5)
    path = tmp_path / 'costs.csv'
    path.write_text('x,y,z\n0,5,1\n2,0,1\n3,4,0\n')
    np.testing.assert_allclose(
        resolve_cost_matrix(str(path), classes=['x', 'y', 'z'],
                            normalize='sum'),
        np.asarray(MATRIX_3) / 16)
    with pytest.raises(ValueError, match='there are 2 classes'):
        resolve_cost_matrix(MATRIX_3, classes=['x', 'y'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(), 'no cost matrix given'),
    (dict(classes=NEU_CLASSES), 'no cost matrix given'),
    (dict(cost_matrix=MATRIX_3, group='a'), 'not both'),
    (dict(classes=NEU_CLASSES, positive_classes=NEU_POSITIVE, group='a',
          coefficients=(200, 20, 2, 1)), 'either coefficients or group'),
    (dict(classes=NEU_CLASSES, positive_classes=NEU_POSITIVE, group='e'),
     'unknown cost group'),
])
def test_resolve_refusals(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resolve_cost_matrix(**kwargs)
