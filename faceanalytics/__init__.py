"""faceanalytics: keep and review face-verification results."""
__version__ = "0.1.0"
