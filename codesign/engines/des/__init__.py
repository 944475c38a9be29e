"""The discrete-event (SimPy) engine: overlap, contention and queues on one representative
rank, with Chrome-trace / Perfetto timelines. SimPy is imported when a run starts."""

from codesign.engines.des.engine import SCHEDULES, DesEngine
from codesign.engines.des.microbatch import split_graphs, split_sizes
from codesign.engines.des.trace import to_chrome_trace, write_chrome_trace

__all__ = ["SCHEDULES", "DesEngine", "split_graphs", "split_sizes", "to_chrome_trace",
           "write_chrome_trace"]
