# The two quickstart commands (see README.md):
#   make demo   set up .venv if needed, prepare NEU-DET, train + evaluate
#               CS-YOLOv5 on a short CPU schedule, print mAP and cost
#   make test   set up .venv if needed, run the whole test suite
VENV      ?= .venv
PY        := $(VENV)/bin/python
NEU_SRC   ?= ../shared/datasets/NEU-DET
DATA      ?= data/NEU-DET
DEMO_CFG  ?= configs/cs_yolov5_neu_quick.py
DEMO_DIR  ?= work_dirs/demo

.PHONY: setup demo data test
setup:
	@bash tools/setup_env.sh

data: setup
	@test -f $(DATA)/annotations/test.json || \
		$(PY) tools/dataset_converters/neu_det.py --src $(NEU_SRC) --out $(DATA)

demo: data
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) $(DEMO_DIR)/last_checkpoint --work-dir $(DEMO_DIR)

test: setup
	$(PY) -m pytest tests -q -ra
