"""Device and precision detection: the one place that asks the hardware what it has.

`resolve_device` picks cuda > mps > cpu, `cpu_bf16_native` is the bf16 hardware probe and
`resolve_precision` turns a precision setting into what autocast will use on a device.
"""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "cpu_bf16_native", "resolve_precision"]


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' if available, else 'mps' if available, else 'cpu'."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def cpu_bf16_native() -> bool:
    """True when the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX tiles).

    There, bf16 autocast makes a training step about 30 % faster and encoding about twice as
    fast as fp32 (measured on a 2-core AMD EPYC); elsewhere bf16 is emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(cpu, name)()) for name in checks if hasattr(cpu, name))
    except Exception:  # noqa: BLE001 - private probes; without them, fp32
        return False


def resolve_precision(precision: str, device: str) -> str:
    """'auto' -> bf16 on CUDA with bf16 support, fp16 on other CUDA, bf16 on CPUs with native
    bf16, fp32 elsewhere."""
    if precision != "auto":
        if precision in ("fp16", "bf16") and not device.startswith("cuda"):
            if precision == "bf16" and device == "cpu":
                return "bf16"  # CPU autocast supports bf16 (slow without AMX, but allowed)
            return "fp32"
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu" and cpu_bf16_native():
        return "bf16"
    return "fp32"
