"""YOLOv5 AutoAnchor (Ultralytics v7.0 ``check_anchors`` / ``kmean_anchors``).

Before training, the head's anchors are scored on the training set's box
sizes; when the best possible recall (BPR) is below 0.98 they are re-fitted
with k-means plus a genetic evolution and kept only when that improves BPR.
The functions are framework-free (NumPy / PyTorch) and usable on their own.
"""
from __future__ import annotations

import random
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import broadcast, get_rank
from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS


# ------------------------------------------------------------------ metrics
def anchor_ratio_metric(wh: torch.Tensor,
                        anchors: torch.Tensor) -> torch.Tensor:
    """x[i, j] = min over w, h of min(r, 1/r), r = wh_i / anchor_j.

    Args:
        wh (Tensor): (n, 2) box widths/heights (pixels).
        anchors (Tensor): (k, 2) anchor widths/heights (pixels).

    Returns:
        Tensor: (n, k) in (0, 1]; 1 = identical sizes.
    """
    ratio = wh[:, None] / anchors[None]
    return torch.min(ratio, 1 / ratio).min(2).values


def best_possible_recall(wh: torch.Tensor, anchors: torch.Tensor,
                         threshold: float = 0.25) -> Tuple[float, float]:
    """(BPR, anchors above threshold per box) as the reference's metric.

    BPR = fraction of boxes whose best anchor has ratio metric > threshold
    (threshold = 1 / anchor_t = 0.25: some anchor is within 4x in both w and
    h, which is the target-assignment rule). AAT = mean number of such
    anchors per box.
    """
    metric = anchor_ratio_metric(wh, anchors)
    best = metric.max(1).values
    bpr = (best > threshold).float().mean()
    aat = (metric > threshold).float().sum(1).mean()
    return float(bpr), float(aat)


def anchor_fitness(wh: torch.Tensor, anchors: torch.Tensor,
                   threshold: float = 0.25) -> float:
    """mean(best * (best > threshold)), best = best ratio metric per box."""
    best = anchor_ratio_metric(wh, anchors).max(1).values
    return float((best * (best > threshold).float()).mean())


def sort_by_area(anchors: np.ndarray) -> np.ndarray:
    return anchors[np.argsort(anchors.prod(1))]


def kmean_anchors(wh0: np.ndarray,
                  num_anchors: int = 9,
                  img_size: int = 640,
                  threshold: float = 0.25,
                  generations: int = 1000,
                  seed: int = 0) -> np.ndarray:
    """Reference ``kmean_anchors`` on given box sizes, with a fixed seed.

    Boxes with both sides < 2 px are dropped; k-means (SciPy, 30 iterations)
    runs on the whitened sizes (divided by their std), falling back to a
    random init when it returns fewer centres; then ``generations`` rounds
    of mutation (probability 0.9, sigma 0.1, factors clipped to [0.3, 3],
    anchors >= 2 px) keep a candidate whenever :func:`anchor_fitness`
    improves.

    Args:
        wh0 (np.ndarray): (n, 2) box sizes in training-image pixels.
        num_anchors (int): number of anchors (levels x anchors per level).
        img_size (int): training size (scale of the random fallback init).
        threshold (float): 1 / anchor_t.
        generations (int): evolution rounds.
        seed (int): seeds a private NumPy / Python generator (results do not
            depend on or disturb the global random state).

    Returns:
        np.ndarray: (num_anchors, 2) float32, sorted by area (small first).
    """
    from scipy.cluster.vq import kmeans

    np_rng = np.random.RandomState(seed)
    py_rng = random.Random(seed)
    wh0 = np.asarray(wh0, dtype=np.float64).reshape(-1, 2)
    wh = wh0[(wh0 >= 2.0).any(1)].astype(np.float32)
    wh_tensor = torch.tensor(wh, dtype=torch.float32)

    centres = None
    if num_anchors <= len(wh):
        sigma = wh.std(0)
        sigma[sigma == 0] = 1.0  # identical sizes: nothing to whiten
        points = kmeans(wh / sigma, num_anchors, iter=30, rng=np_rng)[0]
        if len(points) == num_anchors:
            centres = points * sigma
    if centres is None:
        print_log('AutoAnchor: k-means returned too few centres, using a '
                  'random init', logger='current')
        centres = np.sort(np_rng.rand(num_anchors * 2)).reshape(
            num_anchors, 2) * img_size
    anchors = sort_by_area(np.asarray(centres, dtype=np.float64))

    def fitness(candidate: np.ndarray) -> float:
        return anchor_fitness(wh_tensor,
                              torch.tensor(candidate, dtype=torch.float32),
                              threshold)

    best_fitness = fitness(anchors)
    mutation_prob, sigma = 0.9, 0.1
    for _ in range(generations):
        factors = np.ones(anchors.shape)
        while (factors == 1).all():  # mutate until something changes
            factors = ((np_rng.random_sample(anchors.shape) < mutation_prob) *
                       py_rng.random() * np_rng.randn(*anchors.shape) *
                       sigma + 1).clip(0.3, 3.0)
        candidate = (anchors * factors).clip(min=2.0)
        candidate_fitness = fitness(candidate)
        if candidate_fitness > best_fitness:
            best_fitness, anchors = candidate_fitness, candidate
    return sort_by_area(anchors).astype(np.float32)


# ------------------------------------------------------------------ dataset
def _base_datasets(dataset) -> List:
    """Unwrap mmdet/mmengine dataset wrappers to the datasets with data."""
    if hasattr(dataset, 'datasets'):  # ConcatDataset
        return [d for sub in dataset.datasets for d in _base_datasets(sub)]
    if hasattr(dataset, 'dataset') and not hasattr(dataset, 'data_list'):
        return _base_datasets(dataset.dataset)  # MultiImageMix, Repeat, ...
    return [dataset]


def dataset_box_sizes(dataset, img_size: int) -> Tuple[np.ndarray,
                                                       np.ndarray]:
    """Box sizes of a dataset scaled to the training size, per image.

    Each image's boxes (non-ignored ``instances``) are multiplied by
    img_size / max(height, width) of that image, as the reference's
    ``shapes * img_size / shapes.max()`` does.

    Returns:
        (wh, image_ids): (n, 2) float64 box sizes and (n,) the index of the
        image each box comes from (for the per-image random scale).
    """
    sizes, image_ids = [], []
    image_index = 0
    for base in _base_datasets(dataset):
        if hasattr(base, 'full_init'):
            base.full_init()
        for idx in range(len(base)):
            info = base.get_data_info(idx)
            height, width = info.get('height'), info.get('width')
            if not height or not width:
                raise KeyError(
                    'YOLOv5AutoAnchorHook: the training dataset\'s data info '
                    f'(index {idx}, {info.get("img_path")}) has no '
                    "'height'/'width'; use a COCO-style dataset or disable "
                    'the hook (enabled=False)')
            gain = img_size / max(height, width)
            for instance in info.get('instances', []):
                if instance.get('ignore_flag', 0):
                    continue
                x1, y1, x2, y2 = instance['bbox']
                sizes.append(((x2 - x1) * gain, (y2 - y1) * gain))
                image_ids.append(image_index)
            image_index += 1
    return (np.asarray(sizes, dtype=np.float64).reshape(-1, 2),
            np.asarray(image_ids, dtype=np.int64))


def check_anchors(wh: np.ndarray,
                  image_ids: np.ndarray,
                  anchors: np.ndarray,
                  anchor_t: float = 4.0,
                  img_size: int = 640,
                  bpr_threshold: float = 0.98,
                  generations: int = 1000,
                  seed: int = 0,
                  scale_range: Sequence[float] = (0.9, 1.1)) -> dict:
    """Reference ``check_anchors`` without the model: decide new anchors.

    BPR is measured on the box sizes times a per-image random scale
    U(scale_range) (the reference's augmentation proxy). When it is <=
    ``bpr_threshold``, :func:`kmean_anchors` re-fits and the result is kept
    only if its BPR (same scaled sizes) is strictly higher.

    Args:
        wh (np.ndarray): (n, 2) box sizes in training pixels.
        image_ids (np.ndarray): (n,) image index of each box.
        anchors (np.ndarray): (nl, na, 2) current anchors, pixels.

    Returns:
        dict: ``bpr``, ``aat`` (current), ``anchors`` (nl, na, 2) float32 to
        use, ``new_bpr`` (None when no re-fit ran), ``replaced`` (bool).
    """
    anchors = np.asarray(anchors, dtype=np.float32)
    threshold = 1.0 / anchor_t
    rng = np.random.RandomState(seed)
    num_images = int(image_ids.max()) + 1 if len(image_ids) else 0
    image_scale = rng.uniform(*scale_range, size=num_images)
    scaled = torch.tensor(wh * image_scale[image_ids, None],
                          dtype=torch.float32)
    flat = torch.tensor(anchors.reshape(-1, 2))
    bpr, aat = best_possible_recall(scaled, flat, threshold)
    result = dict(bpr=bpr, aat=aat, anchors=anchors, new_bpr=None,
                  replaced=False)
    if bpr > bpr_threshold or len(wh) == 0:
        return result
    new = kmean_anchors(wh, num_anchors=len(flat), img_size=img_size,
                        threshold=threshold, generations=generations,
                        seed=seed)
    new_bpr, _ = best_possible_recall(scaled, torch.tensor(new), threshold)
    result['new_bpr'] = new_bpr
    if new_bpr > bpr:
        result['anchors'] = new.reshape(anchors.shape)
        result['replaced'] = True
    return result


# --------------------------------------------------------------------- hook
@HOOKS.register_module()
class YOLOv5AutoAnchorHook(Hook):
    """Check, and if needed re-fit, the YOLOv5 head's anchors before training.

    Measures the best possible recall (fraction of training boxes with an
    anchor within ``anchor_t`` in both w and h, sizes scaled to the training
    size and jittered by U(0.9, 1.1) per image) of
    ``model.bbox_head.anchors``. If BPR <= 0.98, :func:`kmean_anchors`
    (k-means + ``generations`` rounds of evolution, seeded) proposes new
    anchors, which replace the old ones only when their BPR is higher. The
    new anchors, sorted by area, 3 per level from the smallest stride up,
    are written with ``bbox_head.set_anchors`` into the head's ``anchors``
    buffer (so they are saved in checkpoints) and into the EMA copy of the
    model when an EMA hook is present. Old/new BPR and anchors are logged.

    Skipped when resuming (the checkpoint holds the anchors), as in the
    reference. In distributed training rank 0 decides and broadcasts.

    Args:
        enabled (bool): False turns the hook into a no-op (the reference's
            ``--noautoanchor``).
        anchor_t (float, optional): anchor/box ratio limit; None = the head's
            ``train_cfg.anchor_t`` (4.0).
        img_size (int, optional): training size; None = the head's
            ``imgsz``.
        bpr_threshold (float): re-fit when BPR <= this (0.98).
        generations (int): evolution rounds (1000, the reference's).
        seed (int): seed of the jitter, k-means and evolution.
    """

    priority = 'NORMAL'

    def __init__(self,
                 enabled: bool = True,
                 anchor_t: Optional[float] = None,
                 img_size: Optional[int] = None,
                 bpr_threshold: float = 0.98,
                 generations: int = 1000,
                 seed: int = 0) -> None:
        self.enabled = enabled
        self.anchor_t = anchor_t
        self.img_size = img_size
        self.bpr_threshold = bpr_threshold
        self.generations = int(generations)
        self.seed = seed
        self.result: Optional[dict] = None

    @staticmethod
    def _head(model):
        if is_model_wrapper(model):
            model = model.module
        head = getattr(model, 'bbox_head', None)
        if head is None or not hasattr(head, 'set_anchors'):
            raise TypeError(
                'YOLOv5AutoAnchorHook needs model.bbox_head with an anchors '
                f'buffer and set_anchors() (YOLOv5Head); got '
                f'{type(head).__name__}. Remove the hook or set '
                'enabled=False for other detectors.')
        return head

    def before_train(self, runner) -> None:
        if not self.enabled:
            print_log('AutoAnchor: disabled', logger='current')
            return
        if runner.iter > 0:
            print_log('AutoAnchor: resumed run, keeping the checkpoint '
                      'anchors', logger='current')
            return
        head = self._head(runner.model)
        anchor_t = self.anchor_t or head.train_cfg.anchor_t
        img_size = self.img_size or head.imgsz
        anchors = head.anchors.detach().cpu().numpy()

        new_anchors = torch.tensor(anchors)
        if get_rank() == 0:
            wh, image_ids = dataset_box_sizes(runner.train_dataloader.dataset,
                                              img_size)
            self.result = check_anchors(
                wh, image_ids, anchors, anchor_t=anchor_t, img_size=img_size,
                bpr_threshold=self.bpr_threshold,
                generations=self.generations, seed=self.seed)
            self._log(self.result, anchors, len(wh), img_size)
            new_anchors = torch.tensor(self.result['anchors'])
        broadcast(new_anchors, src=0)
        if torch.equal(new_anchors, torch.tensor(anchors)):
            return
        head.set_anchors(new_anchors)
        for hook in runner.hooks:
            ema_model = getattr(hook, 'ema_model', None)
            if isinstance(hook, EMAHook) and ema_model is not None:
                self._head(ema_model.module).set_anchors(new_anchors)

    @staticmethod
    def _log(result: dict, old: np.ndarray, num_boxes: int,
             img_size: int) -> None:
        def fmt(anchors):
            return ', '.join(f'{w:.0f}x{h:.0f}'
                             for w, h in np.asarray(anchors).reshape(-1, 2))

        message = (f'AutoAnchor: {num_boxes} boxes at {img_size} px, '
                   f'{result["aat"]:.2f} anchors/target, BPR '
                   f'{result["bpr"]:.4f} with anchors [{fmt(old)}]')
        if result['new_bpr'] is None:
            message += ': good fit, kept'
        elif result['replaced']:
            message += (f'; re-fitted: BPR {result["new_bpr"]:.4f} with '
                        f'anchors [{fmt(result["anchors"])}] (saved in the '
                        'head\'s anchors buffer)')
        else:
            message += (f'; re-fit reached BPR {result["new_bpr"]:.4f}, not '
                        'better: original anchors kept')
        print_log(message, logger='current')
