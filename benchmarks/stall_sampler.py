"""Sampling profiler for GUI stalls (a development tool for gui_stall.py): what each thread ran in a long gap."""
import collections
import sys
import threading
import time

class StallSampler:
    def __init__(self, interval_s=0.002, keep_s=2.0):
        self.interval_s = interval_s
        self.samples = collections.deque(maxlen=int(keep_s / interval_s))
        self.stop_ev = threading.Event()
        self.main_id = threading.main_thread().ident
        self.t = threading.Thread(target=self._run, daemon=True, name="stall-sampler")
    def start(self):
        self.t.start()
    def stop(self):
        self.stop_ev.set()
    def _run(self):
        me = threading.get_ident()
        names = {}
        while not self.stop_ev.is_set():
            now = time.perf_counter()
            snap = []
            for tid, fr in sys._current_frames().items():
                if tid == me:
                    continue
                if tid not in names:
                    names = {t.ident: t.name for t in threading.enumerate()}
                stack = []
                f = fr
                while f is not None and len(stack) < 6:
                    c = f.f_code
                    stack.append(f"{c.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}:{c.co_name}")
                    f = f.f_back
                snap.append((names.get(tid, str(tid)), tuple(stack)))
            self.samples.append((now, snap))
            time.sleep(self.interval_s)
    def window(self, t0, t1):
        agg = collections.Counter()
        n = 0
        for ts, snap in list(self.samples):
            if t0 <= ts <= t1:
                n += 1
                for name, stack in snap:
                    agg[(name, " < ".join(stack[:4]))] += 1
        return n, agg.most_common(8)


def watch_stalls(parent, threshold_ms: float) -> StallSampler:
    """Start a sampler and a 10 ms GUI timer; print the samples of every gap over `threshold_ms`."""
    import json

    from PySide6.QtCore import QTimer

    sampler = StallSampler()
    sampler.start()
    timer = QTimer(parent)
    timer.setInterval(10)
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gap = (now - last[0]) * 1000
        if gap > threshold_ms:
            n, top = sampler.window(last[0], now)
            print(json.dumps({"gap_ms": round(gap, 1), "samples": n,
                              "top": [[name, stack, c] for (name, stack), c in top]}), file=sys.stderr, flush=True)
        last[0] = now

    timer.timeout.connect(tick)
    timer.start()
    parent._stall_watch = (sampler, timer)  # keep both alive
    return sampler
