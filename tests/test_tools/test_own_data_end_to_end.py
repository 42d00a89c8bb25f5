"""Your own data, end to end: YOLO-txt -> COCO -> the custom template ->
train -> test (mAP + cost metrics) -> browse, all through the tools."""
import json
import subprocess
import sys

from csdet.testing.synthetic import make_synthetic_yolo

PAINT = ['dust', 'pit', 'sag', 'scratch']


def tool(repo_root, *args, timeout=900):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=repo_root,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result


def test_yolo_folder_to_trained_cs_yolov5(repo_root, tmp_path):
    data_yaml = make_synthetic_yolo(tmp_path / 'yolo', num_images=8,
                                    image_size=96, classes=PAINT, seed=5)
    coco = tmp_path / 'coco'
    tool(repo_root, 'tools/dataset_converters/yolo2coco.py', '--data',
         data_yaml, '--out', coco)
    # The template as a user fills it in: data_root, positive classes, size
    # and schedule (here tiny, for a test).
    options = [f'data_root={coco}/', "cost.positive_classes=['pit','sag']",
               'img_size=64', 'train_cfg.max_epochs=1',
               'train_cfg.val_interval=1', 'train_dataloader.batch_size=2',
               'custom_hooks.2.generations=20']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0',
                    f'{loader}_dataloader.persistent_workers=False']
    config = repo_root / 'configs' / 'custom' / 'cs_yolov5_custom.py'
    work_dir = tmp_path / 'work'
    tool(repo_root, 'tools/train.py', config, '--work-dir', work_dir,
         '--cfg-options', *options)
    assert (work_dir / 'epoch_1.pth').is_file()
    tool(repo_root, 'tools/test.py', config, work_dir, '--work-dir',
         work_dir, '--cfg-options', *options)
    metrics = json.loads((work_dir / 'test_metrics.json').read_text())
    for key in ('coco/bbox_mAP_50', 'cost_det/cost', 'f1/f1',
                'decision/total_cost'):
        assert key in metrics, sorted(metrics)
    browse = tmp_path / 'browse'
    tool(repo_root, 'tools/browse_dataset.py', config, '--n', '2',
         '--out-dir', browse, '--cfg-options', *options)
    assert len(list(browse.glob('*.png'))) == 2
