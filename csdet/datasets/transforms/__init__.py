from .yolov5_transforms import (LetterBox, YOLOv5HSVRandomAug,  # noqa: F401
                                YOLOv5Mosaic, YOLOv5RandomPerspective)
