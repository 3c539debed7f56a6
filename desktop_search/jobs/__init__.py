"""Long jobs: progress and cancel token, the event codec, the child launcher, run_job, indexing, training.

The jobs take the pieces they need (store, BM25 index, model registry), never the service.
"""

from .events import Event, EventType, decode, encode
from .progress import CancelToken, Progress, RateMeter
from .runner import emit, run_job

__all__ = ["CancelToken", "Event", "EventType", "Progress", "RateMeter", "decode", "emit", "encode", "run_job"]
