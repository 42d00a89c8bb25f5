"""Sweep tool that reproduces the CS-YOLOv5 paper's experiments.

Modules:
    experiments: what to train and evaluate (the plan), per experiment.
    runner: runs the plan with tools/train.py and tools/test.py
        subprocesses; resumable, idempotent, parallel.
    slurm: job-array scripts for clusters.
    report: results.csv/json, Markdown tables, PNG plots.
"""
from .experiments import (DETECTORS, EXPERIMENTS, PROFILES, Plan,
                          PlanOptions, plan_experiment)
from .report import collect_rows, write_report
from .runner import ToolCommands, run_sweep

__all__ = [
    'DETECTORS', 'EXPERIMENTS', 'PROFILES', 'Plan', 'PlanOptions',
    'plan_experiment', 'collect_rows', 'write_report', 'ToolCommands',
    'run_sweep'
]
