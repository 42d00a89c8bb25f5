# NEU-DET (1,500 train / 300 test images, 200 x 200 grey JPEGs, six
# classes), converted to COCO by
#   python tools/dataset_converters/neu_det.py \
#       --src path/to/NEU-DET --out data/NEU-DET
# Combine with a structural base (defect_coco.py or defect_coco_yolov5.py).
# The test split doubles as the validation split, as in the paper.
dataset_type = 'NEUDETDataset'
data_root = 'data/NEU-DET/'

# The paper's setting (Sec. 3.3, Table 1): positive (costly) classes,
# coefficient group a = lambda_NP:PN:NN:PP = 200:20:2:1, the matrix divided
# by its largest entry, r = lambda_cost / lambda_cls = 0.75.
cost = dict(
    positive_classes=['patches', 'pitted_surface', 'inclusion', 'scratches'],
    group='a',
    normalize='max',
    ratio=0.75)
