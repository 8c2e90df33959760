"""``python -m benchmarks [--quick]``: run the suite and write BENCHMARKS.md."""

import os
import sys

# TensorFlow's C++ start-up chatter would bury the suite's progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.suite import main

sys.exit(main())
