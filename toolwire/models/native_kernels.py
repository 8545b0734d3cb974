"""The GGUF block-format kernels (ggml_kernels.cpp): compiled for this CPU on first use, then cached.

The library is built with the system's C++ compiler (`-O3 -march=native`) into
~/.cache/toolwire/kernels (or $TOOLWIRE_CACHE/kernels), under a name that hashes the source, the
compiler and the CPU model, so a restart on the same machine loads it in milliseconds and a copy of
the cache on another CPU is never used. `scripts/install.sh` builds it once at install.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("ggml_kernels.cpp")
FLAGS = ("-O3", "-march=native", "-pthread", "-ffp-contract=fast", "-std=gnu++17", "-shared", "-fPIC")


class KernelBuildError(RuntimeError):
    pass


def cache_dir() -> Path:
    root = os.environ.get("TOOLWIRE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "toolwire")
    return Path(root)


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (with family/model numbers, which tell apart CPUs sold under one name)."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    import platform

    name = fields.get("model name") or platform.processor() or platform.machine()
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def _compiler() -> str:
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise KernelBuildError("no C++ compiler found (g++ or $CXX): the quantized GGUF kernels are built "
                               "at install; install one, or load with --weights exact to expand the weights")
    return compiler


def library_path() -> Path:
    compiler = _compiler()
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, *version, cpu_model(), *FLAGS]).encode())
    return cache_dir() / "kernels" / f"ggml_kernels-{key.hexdigest()[:16]}.so"


def build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        target = Path(scratch) / path.name
        result = subprocess.run([_compiler(), *FLAGS, str(SOURCE), "-o", str(target)], capture_output=True, text=True)
        if result.returncode != 0:
            raise KernelBuildError(f"building {SOURCE.name} failed:\n{result.stderr[-2000:]}")
        os.replace(target, path)  # atomic: a concurrent process sees the old state or a whole library


@functools.cache
def _loaded() -> ctypes.CDLL:
    path = library_path()
    if not path.exists():
        build(path)
    lib = ctypes.CDLL(str(path))
    i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.tw_matmul.argtypes = [c_int, ptr, ptr, ptr, ptr, ptr, i64, i64, i64, ptr, i64, c_int]
    lib.tw_dequantize.argtypes = [c_int, ptr, i64, i64, ptr, i64, ptr]
    lib.tw_supports.argtypes = [c_int]
    lib.tw_set_threads.argtypes = [c_int]
    return lib


_pool_threads = 0


def library() -> ctypes.CDLL:
    """The kernels, their thread pool sized to torch.get_num_threads() (followed when it changes)."""
    global _pool_threads
    lib = _loaded()
    threads = torch.get_num_threads()
    if threads != _pool_threads:
        lib.tw_set_threads(threads)
        _pool_threads = threads
    return lib


def supports(ggml_type: int) -> bool:
    return bool(library().tw_supports(ggml_type))


# tw_matmul's modes.
FUSED, TILED = 0, 1


class PartTable:
    """The C arrays describing a weight's row parts (format, bytes, rows, row length), built once:
    the parts' tensors must stay alive and unmoved as long as the table is used."""

    def __init__(self, parts: list[tuple[int, torch.Tensor]]):
        count = len(parts)
        self.count = count
        self.formats = (ctypes.c_int * count)(*(t for t, _ in parts))
        self.weights = (ctypes.c_void_p * count)(*(b.data_ptr() for _, b in parts))
        self.rows = (ctypes.c_int64 * count)(*(b.shape[0] for _, b in parts))
        self.row_bytes = (ctypes.c_int64 * count)(*(b.stride(0) for _, b in parts))


def matmul(table: PartTable, x: torch.Tensor, k: int, out: torch.Tensor, mode: int) -> None:
    """out[m, :] = x[m] . dequantized weight rows (the parts' rows, in order), for float32 x [M, k]
    whose rows are contiguous; out [M, N] may be a column slice of a wider tensor."""
    status = library().tw_matmul(table.count, table.formats, table.weights, table.rows, table.row_bytes,
                                 x.data_ptr(), x.shape[0], x.stride(0), k, out.data_ptr(), out.stride(0), mode)
    if status != 0:
        raise ValueError("a part's GGML type has no kernel" if status == -1 else "too many parts")


def dequantize(ggml_type: int, blocks: torch.Tensor, k: int, rows: torch.Tensor | None = None,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """The float32 rows of blocks [N, row_bytes] (all, or those `rows` names, int64)."""
    n = blocks.shape[0] if rows is None else rows.numel()
    out = torch.empty(n, k, dtype=torch.float32) if out is None else out
    ids = None if rows is None else rows.data_ptr()
    status = library().tw_dequantize(ggml_type, blocks.data_ptr(), blocks.stride(0), k, ids, n,
                                     out.data_ptr())
    if status != 0:
        raise ValueError(f"GGML type {ggml_type} has no kernel")
    return out
