#!/usr/bin/env python3
"""gta_slowfast: Global Temporal Attention and decoupled non-local blocks for PySlowFast."""

from setuptools import find_packages, setup

setup(
    name="gta_slowfast",
    version="0.1.0",
    description=(
        "Global Temporal Attention (GTA) and decoupled non-local blocks (DNL) as a PySlowFast "
        "plug-in"
    ),
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["gta_slowfast", "gta_slowfast.*"]),
    # PySlowFast itself ("slowfast") is not listed: install it from your checkout
    # (pip install --no-deps -e /path/to/SlowFast), or take the PyPI snapshot through the
    # "pyslowfast" extra. Listing it here would overwrite a checkout.
    install_requires=[
        "torch", "fvcore", "iopath", "simplejson", "av", "matplotlib", "pillow", "tqdm",
    ],
    extras_require={
        # The January-2020 PySlowFast snapshot on PyPI and what its datasets import.
        "pyslowfast": ["pyslowfast==1.0", "opencv-python-headless"],
        # What PySlowFast main's trainer imports at run time, for use beside your checkout
        # (never PySlowFast itself; PyTorchVideo comes from its GitHub source, see README).
        "slowfast-main": [
            "opencv-python-headless", "pandas", "scipy", "scikit-learn", "tensorboard", "psutil",
            "fairscale", "yacs", "termcolor", "tqdm", "parameterized", "networkx",
        ],
        # Running exported ONNX models (python -m gta_slowfast.tools.convert onnx).
        "export": ["onnx", "onnxruntime"],
        # The suite, with the export tests' runtime (they skip without it), and the linter
        # (ruff.toml) that runs before it.
        "test": ["pytest", "onnx", "onnxruntime", "ruff>=0.17,<0.18"],
    },
    entry_points={
        "console_scripts": [
            "gta-run-net=gta_slowfast.engine.launch:main",
            "gta-complexity=gta_slowfast.tools.complexity:main",
            "gta-convert=gta_slowfast.tools.convert:main",
            "gta-ensemble=gta_slowfast.tools.ensemble:main",
            "gta-visualize=gta_slowfast.tools.visualize:main",
            "gta-benchmark=gta_slowfast.tools.benchmark:main",
            "gta-data=gta_slowfast.tools.data:main",
            "gta-predict=gta_slowfast.tools.predict:main",
            "gta-curves=gta_slowfast.tools.curves:main",
        ]
    },
)
