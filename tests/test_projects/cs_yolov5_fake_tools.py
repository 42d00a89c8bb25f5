"""Stand-in for tools/train.py and tools/test.py in the sweep tests.

    python cs_yolov5_fake_tools.py train CONFIG --work-dir D [--resume]
        [--cfg-options k=v ...]
    python cs_yolov5_fake_tools.py test CONFIG CKPT --work-dir D
        [--cfg-options k=v ...]

It answers in milliseconds with the files the real tools leave behind
(epoch_N.pth + last_checkpoint, <timestamp>/vis_data/scalars.json,
test_metrics.json with the real metric names). Metric values follow fixed
formulas of the cost spec so that tests can check the numbers:

    cost_x1e3     = (0.5 if CS config else 4.0) * (1 + 0.1 * group index)
                    (group: the cost.group option, default a)
    label_cost    = cost_x1e3 * 2e-3, halved with bayes_relabel
    decision cost = 10 * cost_x1e3, times 0.8 with bayes_relabel

Environment switches:
    FAKE_CALLS=path        append one JSON line per call
    FAKE_FAIL=substring    exit 3 when the command line contains it
    FAKE_KILL_FLAG=path    the first training (flag file absent) writes its
                           epoch-1 checkpoint, creates the flag and SIGKILLs
                           itself
Only the standard library is imported, to stay fast.
"""
import json
import os
import signal
import sys
import time
from pathlib import Path


def parse(argv):
    mode, rest = argv[0], argv[1:]
    positional, options, flags = [], {}, {}
    index = 0
    while index < len(rest):
        item = rest[index]
        if item == '--work-dir':
            flags['work_dir'] = rest[index + 1]
            index += 2
        elif item == '--resume':
            flags['resume'] = True
            index += 1
        elif item == '--cfg-options':
            index += 1
            while index < len(rest) and not rest[index].startswith('--'):
                key, value = rest[index].split('=', 1)
                options[key] = value
                index += 1
        else:
            positional.append(item)
            index += 1
    return mode, positional, options, flags


def train(config, options, flags):
    work_dir = Path(flags['work_dir'])
    work_dir.mkdir(parents=True, exist_ok=True)
    epochs = int(options.get('train_cfg.max_epochs', 2))
    start = 1
    pointer = work_dir / 'last_checkpoint'
    if flags.get('resume'):
        last = Path(pointer.read_text().strip()).stem  # epoch_N
        start = int(last.split('_')[1]) + 1
    stamp = time.strftime('%Y%m%d_%H%M%S') + f'_{time.time_ns() % 10**9:09d}'
    scalars = work_dir / stamp / 'vis_data' / 'scalars.json'
    scalars.parent.mkdir(parents=True)
    cs = Path(config).name.startswith('cs_')
    kill_flag = os.environ.get('FAKE_KILL_FLAG')
    for epoch in range(start, epochs + 1):
        record = dict(loss=2.0 / epoch, epoch=epoch, iter=5 * epoch,
                      step=5 * epoch)
        if cs:
            record.update(loss_cls_ce=1.0 / epoch, loss_cls_cost=0.1 / epoch)
        else:
            record.update(loss_cls=1.0 / epoch)
        with open(scalars, 'a') as file:
            file.write(json.dumps(record) + '\n')
            file.write(json.dumps({'coco/bbox_mAP': 0.3, 'step': epoch})
                       + '\n')
        checkpoint = work_dir / f'epoch_{epoch}.pth'
        checkpoint.write_text('fake')
        pointer.write_text(str(checkpoint.resolve()))
        if kill_flag and not Path(kill_flag).exists():
            Path(kill_flag).write_text('killed once')
            os.kill(os.getpid(), signal.SIGKILL)


def test(config, checkpoint, options, flags):
    if not (Path(checkpoint) / 'last_checkpoint').is_file():
        print(f'checkpoint not found: {checkpoint}', file=sys.stderr)
        return 2
    group = options.get('cost.group', 'a')
    bayes = any(k.endswith('.bayes_relabel') and v == 'True'
                for k, v in options.items())
    cs = Path(config).name.startswith('cs_')
    cost_x1e3 = (0.5 if cs else 4.0) * (1 + 0.1 * 'abcd'.index(group))
    metrics = {
        'coco/bbox_mAP': 0.4,
        'coco/bbox_mAP_50': 0.74 if cs else 0.75,
        'f1/f1': 0.65,
        'f1/best_f1': 0.7,
        'cost_pos/cost_x1e3': 2 * cost_x1e3,
        'cost_pos/F': 9000,
        'cost_det/cost': cost_x1e3 / 1000,
        'cost_det/cost_x1e3': cost_x1e3,
        'cost_det/F': 280,
        'cost_det/label_cost': cost_x1e3 * 2e-3 * (0.5 if bayes else 1.0),
        'decision/total_cost': 10 * cost_x1e3 * (0.8 if bayes else 1.0),
    }
    work_dir = Path(flags['work_dir'])
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / 'test_metrics.json').write_text(json.dumps(metrics))
    return 0


def main(argv):
    mode, positional, options, flags = parse(argv)
    calls = os.environ.get('FAKE_CALLS')
    if calls:
        with open(calls, 'a') as file:
            file.write(json.dumps(dict(mode=mode, positional=positional,
                                       work_dir=flags.get('work_dir'),
                                       resume=bool(flags.get('resume')),
                                       options=options)) + '\n')
    failure = os.environ.get('FAKE_FAIL')
    if failure and failure in ' '.join(argv):
        print(f'fake failure: command matched {failure!r}', file=sys.stderr)
        return 3
    if mode == 'train':
        train(positional[0], options, flags)
        return 0
    return test(positional[0], positional[1], options, flags)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
