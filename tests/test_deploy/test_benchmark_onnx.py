"""tools/analysis/benchmark_onnx.py helpers (the timing itself is a script,
not a test)."""
import pytest

from tool_loader import load_tool


@pytest.fixture(scope='module')
def bench():
    return load_tool('analysis/benchmark_onnx.py')


def test_calls_alternate_and_flip_order(bench):
    order = []
    times = bench.alternate(
        dict(torch=lambda: order.append('torch'),
             ort=lambda: order.append('ort')), repeats=3, warmup=1)
    assert order == ['torch', 'ort',  # warmup
                     'torch', 'ort', 'ort', 'torch', 'torch', 'ort']
    assert [len(values) for values in times.values()] == [3, 3]
    assert all(value >= 0 for values in times.values() for value in values)


def test_table_shows_medians_and_ratio(bench):
    args = bench.parse_args(['a.py', '--repeats', '5'])
    row = dict(config='a.py', params=1.77e6, batch=16, torch=0.2,
               torch_iqr=(0.19, 0.21), ort=0.05, ort_iqr=(0.049, 0.052),
               ratio=4.0)
    table = bench.format_table([row], args)
    assert '192 x 192 px, 2 threads each, 5 alternating calls' in table
    assert '200.0 (190.0-210.0)' in table and '50.0 (49.0-52.0)' in table
    assert table.rstrip().endswith('4.00x')


@pytest.mark.parametrize('values, median, iqr', [
    ([0.5, 0.1, 0.3, 0.9, 0.2, 0.4, 0.7], 0.4, (0.2, 0.7)),
    ([1.0, 2.0, 3.0, 4.0], 2.5, (1.25, 3.75)),  # exclusive quartiles
    ([0.3, 0.1], 0.2, (0.1, 0.3)),  # the range below three values
    ([0.3], 0.3, (0.3, 0.3)),
])
def test_row_median_and_quartiles(bench, values, median, iqr):
    fields = bench.timing_fields(dict(torch=values, ort=values[::-1]))
    for name in ('torch', 'ort'):
        assert fields[name] == pytest.approx(median)
        assert fields[f'{name}_iqr'] == pytest.approx(iqr)
