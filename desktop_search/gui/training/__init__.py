"""The Training tab and its parts: formatting, the child runner, the hardware probe, versions, the loss chart."""

from .chart import LossChart, nice_ticks
from .formatting import BASE, device_label, fmt_duration, metric_label, short_version
from .probe import HardwareProbe
from .runner import TrainJob, TrainOutcome, TrainRunner, TrainSettings, done_outcome, request_path
from .tab import TrainingTab
from .versions import VersionRow, VersionsModel, load_version_rows

__all__ = ["BASE", "HardwareProbe", "LossChart", "TrainJob", "TrainOutcome", "TrainRunner", "TrainSettings",
           "TrainingTab", "VersionRow", "VersionsModel", "device_label", "done_outcome", "fmt_duration",
           "load_version_rows", "metric_label", "nice_ticks", "request_path", "short_version"]
