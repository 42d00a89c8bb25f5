"""onnxruntime vs PyTorch latency of YOLOv5 networks on the CPU.

    python tools/analysis/benchmark_onnx.py configs/yolov5_neu_quick.py \
        configs/yolov5_neu.py --batch-sizes 1 16 --img-size 192

Per config the model (initial weights: latency does not depend on them) is
exported to a temporary ONNX file (dynamic batch), then PyTorch (eval,
no_grad) and onnxruntime run the same random N x 3 x S x S batch with the
same number of threads, alternating call by call (the order flips every
repeat) so that both see the same machine load; onnxruntime's thread
spinning is off so that it does not slow the PyTorch call after it.
Timed: the network, from the preprocessed batch to the raw head outputs
(what the ONNX file replaces); decoding and NMS are not included. Printed: medians (ms per
batch), interquartile ranges and the ratio PyTorch / onnxruntime (> 1:
onnxruntime is faster).
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

import csdet  # noqa: F401  (registers the csdet modules)
from csdet.deploy.onnx_export import RawOutputs, build_detector, export_model
from csdet.utils.benchmark import alternate, count_parameters, summarize
from csdet.utils.runner_setup import UserInputError, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='onnxruntime vs PyTorch latency (network only)')
    parser.add_argument('configs', nargs='+', help='YOLOv5 config files')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--img-size', type=int, default=192,
                        help='square input side (multiple of 32)')
    parser.add_argument('--threads', type=int, default=2,
                        help='intra-op threads of both runtimes')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed calls per runtime and batch size')
    parser.add_argument('--warmup', type=int, default=3)
    return parser.parse_args(argv)


def timing_fields(times: Dict[str, List[float]]) -> dict:
    """``{name: median, name_iqr: (q1, q3)}`` of each runtime's seconds."""
    fields = {}
    for name, values in times.items():
        timing = summarize(values)
        fields[name] = timing.median
        fields[f'{name}_iqr'] = (timing.q1, timing.q3)
    return fields


def benchmark_config(config: str, args: argparse.Namespace,
                     workdir: Path) -> List[dict]:
    import onnxruntime as ort

    cfg = load_config(config)
    model = build_detector(cfg)
    path = workdir / (Path(config).stem + '.onnx')
    export_model(model, cfg, str(path), img_size=args.img_size,
                 dynamic_batch=True, config_path=config)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    # Idle onnxruntime workers would otherwise spin on the cores right
    # after each call and slow the PyTorch call that follows it.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(str(path), options,
                                   providers=['CPUExecutionProvider'])
    network = RawOutputs(model).eval()
    params = count_parameters(model)
    rows = []
    for batch_size in args.batch_sizes:
        inputs = torch.rand(batch_size, 3, args.img_size, args.img_size,
                            generator=torch.Generator().manual_seed(0))
        feed = {'images': inputs.numpy()}

        def run_torch() -> None:
            with torch.no_grad():
                network(inputs)

        times = alternate(
            dict(torch=run_torch, ort=lambda: session.run(None, feed)),
            args.repeats, args.warmup)
        row = dict(config=Path(config).name, params=params,
                   batch=batch_size, **timing_fields(times))
        row['ratio'] = row['torch'] / row['ort']
        rows.append(row)
    return rows


def format_table(rows: List[dict], args: argparse.Namespace) -> str:
    header = (f"{'config':<24} {'params':>9} {'batch':>5} "
              f"{'PyTorch ms (IQR)':>22} {'onnxruntime ms (IQR)':>22} "
              f"{'PyTorch/ORT':>11}")
    lines = [
        f'network forward, {args.img_size} x {args.img_size} px, '
        f'{args.threads} threads each, {args.repeats} alternating calls, '
        f'median ms per batch',
        header, '-' * len(header)
    ]

    def cell(median: float, iqr: tuple) -> str:
        return f'{median * 1e3:.1f} ({iqr[0] * 1e3:.1f}-{iqr[1] * 1e3:.1f})'

    for row in rows:
        lines.append(
            f"{row['config']:<24} {row['params'] / 1e6:>8.2f}M "
            f"{row['batch']:>5} {cell(row['torch'], row['torch_iqr']):>22} "
            f"{cell(row['ort'], row['ort_iqr']):>22} "
            f"{row['ratio']:>10.2f}x")
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.repeats < 1 or args.threads < 1 or min(args.batch_sizes) < 1:
        print('error: --repeats, --threads and --batch-sizes must be >= 1',
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for config in args.configs:
                rows += benchmark_config(config, args, Path(workdir))
    except (UserInputError, ValueError, RuntimeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(format_table(rows, args))
    print(f'torch {torch.__version__}, onnxruntime '
          f"{__import__('onnxruntime').__version__}, numpy {np.__version__},"
          f' {os.cpu_count()} CPUs visible')
    return 0


if __name__ == '__main__':
    sys.exit(main())
