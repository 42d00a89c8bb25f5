"""Export a trained detector to ONNX.

    python tools/export.py CONFIG CKPT --format onnx --out model.onnx \
        [--dynamic-batch] [--dynamic-shape] [--img-size N] [--opset 18]

CKPT is a .pth file, a work dir or its last_checkpoint file. YOLOv5 and SSD
configs export (plain and cost-sensitive); Faster R-CNN is refused with the
reason. The file takes the data preprocessor's output (N x 3 x H x W
float32) and returns the head's raw maps; its metadata holds what
csdet/deploy/onnx_runtime.py needs to decode them (classes, normalisation,
prior layout, test_cfg, the test pipeline's resize), so that module and
onnxruntime are all a deployment needs. After export, onnxruntime and
PyTorch are compared on a random input; the file is only written when they
agree.
"""
import argparse
import json
import sys

from mmengine.config import DictAction

import csdet  # noqa: F401  (registers modules and checkpoint safe globals)
from csdet.deploy.onnx_export import (DEFAULT_OPSET, ExportNotSupported,
                                      export_onnx)
from csdet.utils.runner_setup import UserInputError, resolve_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a detector to ONNX')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='.pth file, work dir, or '
                        'last_checkpoint file')
    parser.add_argument('--format', default='onnx', choices=['onnx'],
                        help='export format (only onnx)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--img-size', type=int, help='YOLOv5: square input '
                        'side, a multiple of 32 (default: what the test '
                        'pipeline gives an image of its scale, 224 x 224 '
                        'for the 192-px NEU-DET configs; SSD: 300 x 300)')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='dynamic batch axis (default: batch 1)')
    parser.add_argument('--dynamic-shape', action='store_true',
                        help='YOLOv5: dynamic height and width (multiples '
                        'of 32)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset (default {DEFAULT_OPSET})')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.out.endswith('.onnx'):
        print('error: --out must end with .onnx', file=sys.stderr)
        return 2
    try:
        result = export_onnx(
            args.config, resolve_checkpoint(args.checkpoint), args.out,
            img_size=args.img_size, dynamic_batch=args.dynamic_batch,
            dynamic_shape=args.dynamic_shape, opset=args.opset,
            cfg_options=args.cfg_options)
    except (UserInputError, ExportNotSupported, ValueError,
            FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    meta = result['metadata']
    print(f"wrote {result['path']}\n"
          f"  input  {meta['input_name']}: "
          f"{' x '.join(str(v) for v in result['input_shape'])} float32\n"
          f"  outputs {', '.join(json_list(meta['outputs']))}\n"
          f"  classes {', '.join(json_list(meta['classes']))}\n"
          f"  onnxruntime vs PyTorch, max |difference| of the raw outputs: "
          f"{result['max_abs_error']:.2e}\n"
          '  run it with csdet/deploy/onnx_runtime.py (NumPy + onnxruntime)')
    return 0


def json_list(text: str) -> list:
    """A JSON list stored in the metadata, as strings."""
    return [str(item) for item in json.loads(text)]


if __name__ == '__main__':
    sys.exit(main())
