"""Device choice: ``auto`` takes a GPU when there is one, else the CPU."""

from __future__ import annotations

import torch

from engine.errors import DeviceError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "a GPU ('cuda') was requested but this machine has none",
            "use --device cpu or --device auto",
        )
    if name not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device {name!r}", "use auto, cpu or cuda")
    return torch.device(name)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"
