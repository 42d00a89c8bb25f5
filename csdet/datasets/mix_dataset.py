"""mmdet's MultiImageMixDataset without per-transform deep copies, with an
optional RAM cache of the decoded images."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import List, Optional

import numpy as np
import torch
from mmdet.datasets import MultiImageMixDataset
from mmdet.registry import DATASETS
from mmdet.structures.bbox import BaseBoxes
from mmengine.logging import print_log


@DATASETS.register_module()
class CachedMultiImageMixDataset(MultiImageMixDataset):
    """``MultiImageMixDataset`` that hands each transform the results as they
    are, and can keep the inner dataset's loaded samples in memory.

    mmdet's wrapper deep-copies the sample (and its mix samples, images
    included) before every transform so that it can retry one that returns
    None. The inner dataset builds a new sample on every call, so the copies
    only cost time; here a transform returning None is an error instead.
    Same random draws, same order, same outputs.

    Args:
        cache_images (bool): load every sample of the inner dataset once (its
            pipeline, e.g. LoadImageFromFile + LoadAnnotations) when the
            dataset is initialised, before dataloader workers fork, so they
            share it. The log states the memory needed before and after.
            Cached images are read-only; every use gets its own copy of the
            box, label and flag arrays and of the top level of lists and
            dicts (e.g. ``instances``; their items are shared). Samples the
            inner pipeline drops (None) stay uncached.
        Others: those of ``mmdet.datasets.MultiImageMixDataset``.

    Raises:
        RuntimeError: a transform returned None.
    """

    def __init__(self, *args, cache_images: bool = False, **kwargs) -> None:
        self.cache_images = cache_images
        self._cache: Optional[List[Optional[dict]]] = None
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        if self.cache_images:
            self._cache = self._load_all()

    def _load_all(self) -> List[Optional[dict]]:
        count = len(self.dataset)
        cache = [self.dataset.prepare_data(0)] if count else []
        if cache and cache[0] is not None:
            if not isinstance(cache[0].get('img'), np.ndarray):
                raise ValueError(
                    f'{type(self).__name__}: cache_images=True needs an '
                    'inner dataset pipeline that loads the image '
                    "(LoadImageFromFile); its samples have no 'img' array")
            estimate = cache[0]['img'].nbytes * count / 2**20
            print_log(f'cache_images: loading {count} images into memory, '
                      f'about {estimate:.1f} MB (first image x {count})',
                      logger='current')
        cache += [self.dataset.prepare_data(i) for i in range(1, count)]
        total = 0
        for results in cache:
            if results is not None:
                results['img'].setflags(write=False)
                total += results['img'].nbytes
        print_log(f'cache_images: {total / 2**20:.1f} MB held for '
                  f'{sum(r is not None for r in cache)} images',
                  logger='current')
        return cache

    def _sample(self, index: int) -> dict:
        """The inner dataset's sample: from the cache (annotations copied,
        image shared) or freshly loaded."""
        cached = self._cache[index] if self._cache is not None else None
        if cached is None:
            return self.dataset[index]
        results = {}
        for key, value in cached.items():
            if key == 'img':
                results[key] = value
            elif isinstance(value, (np.ndarray, torch.Tensor, BaseBoxes)):
                results[key] = value.clone() if not isinstance(
                    value, np.ndarray) else value.copy()
            elif isinstance(value, (list, dict)):
                results[key] = copy.copy(value)
            else:
                results[key] = value
        return results

    def __getitem__(self, idx: int) -> dict:
        results = self._sample(idx)
        for transform, transform_type in zip(self.pipeline,
                                             self.pipeline_types):
            if (self._skip_type_keys is not None
                    and transform_type in self._skip_type_keys):
                continue
            if hasattr(transform, 'get_indexes'):
                indexes = transform.get_indexes(self.dataset)
                if not isinstance(indexes, Sequence):
                    indexes = [indexes]
                results['mix_results'] = [self._sample(i) for i in indexes]
            updated = transform(results)
            if updated is None:
                raise RuntimeError(
                    f'{type(self).__name__}: {transform_type} returned None '
                    f'for sample {idx}; this wrapper does not retry (it '
                    'keeps no copy to retry from): use mmdet\'s '
                    'MultiImageMixDataset for transforms that can fail')
            results = updated
            results.pop('mix_results', None)
        return results
