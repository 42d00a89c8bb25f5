"""csdet: cost-sensitive industrial defect detection on MMDetection 3.x.

The heavy dependencies (torch, mmcv built from source) are installed by
tools/setup_env.sh; ``pip install -e .`` only registers the package.
"""
from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path('csdet/version.py').read_text(), version)

setup(
    name='csdet',
    version=version['__version__'],
    description='Cost-sensitive defect detection (CS-YOLOv5 and friends) '
    'on MMDetection 3.x',
    long_description=Path('README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['csdet', 'csdet.*']),
    python_requires='>=3.10',
    install_requires=[
        line.strip() for line in
        Path('requirements/runtime.txt').read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ],
    license='Apache-2.0',
)
