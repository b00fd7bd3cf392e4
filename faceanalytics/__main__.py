"""``python -m faceanalytics``: the same command line as ``faceanalytics``."""
import sys

from .cli import main

sys.exit(main())
