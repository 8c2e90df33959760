"""bgnn-deploy: binary graph neural networks from a trained checkpoint to a board.

The library is usable without the CLI::

    from bgnn_deploy.models import build_model, ModelConfig
    model = build_model(ModelConfig(arch="bin-dgcnn-bf1", num_points=256, k=10))
"""

import os

# larq and larq-compute-engine need Keras 2 (tf-keras). TensorFlow reads this once, at
# import, so it is set here, before anything in the package can import TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
