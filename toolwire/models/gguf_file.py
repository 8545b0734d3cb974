"""Reading a GGUF file: its key/value metadata, its tensor directory, and tensors as float32 torch.

The header is parsed here with struct/numpy rather than gguf.GGUFReader, which builds a numpy view
per array element: for a 49k-token vocabulary that alone took 2-6 s on our 2 cores, against ~0.1 s
here. Type codes, block sizes and dequantization come from the `gguf` package.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType
from gguf.quants import dequantize

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

_SCALARS = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h", GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}


class GGUFFormatError(ValueError):
    pass


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # numpy order: rows first (GGUF lists dimensions the other way round)
    qtype: GGMLQuantizationType
    offset: int  # absolute, in the file

    @property
    def nbytes(self) -> int:
        block_size, type_size = GGML_QUANT_SIZES[self.qtype]
        return int(np.prod(self.shape)) // block_size * type_size


class _Cursor:
    def __init__(self, data: memoryview):
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        text = bytes(self.data[self.pos:self.pos + length]).decode("utf-8", errors="replace")
        self.pos += length
        return text

    def value(self, vtype: int) -> Any:
        vtype = GGUFValueType(vtype)
        if vtype == GGUFValueType.STRING:
            return self.string()
        if vtype == GGUFValueType.ARRAY:
            item_type, count = GGUFValueType(self.unpack("<I")), self.unpack("<Q")
            if item_type in _SCALARS and item_type != GGUFValueType.BOOL:
                dtype = np.dtype(_SCALARS[item_type])
                items = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
                self.pos += dtype.itemsize * count
                return items.tolist()
            return [self.value(item_type) for _ in range(count)]
        return self.unpack(_SCALARS[vtype])


class GGUFFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # Copy-on-write: torch wants writable buffers; nothing is ever written back.
        self._map = np.memmap(self.path, mode="c")
        try:
            self.metadata, self.tensors = self._parse(memoryview(self._map))
        except (struct.error, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise GGUFFormatError(f"not a valid GGUF file ({exc})") from None

    def _parse(self, data: memoryview) -> tuple[dict[str, Any], dict[str, TensorInfo]]:
        cursor = _Cursor(data)
        if bytes(data[:4]) != GGUF_MAGIC:
            raise GGUFFormatError("not a GGUF file (bad magic bytes)")
        cursor.pos = 4
        version = cursor.unpack("<I")
        if version not in (2, 3):
            raise GGUFFormatError(f"GGUF version {version} is not supported (2 and 3 are)")
        tensor_count, kv_count = cursor.unpack("<Q"), cursor.unpack("<Q")
        metadata = {}
        for _ in range(kv_count):
            key = cursor.string()
            metadata[key] = cursor.value(cursor.unpack("<I"))
        infos = []
        for _ in range(tensor_count):
            name = cursor.string()
            dims = [cursor.unpack("<Q") for _ in range(cursor.unpack("<I"))]
            qtype = GGMLQuantizationType(cursor.unpack("<I"))
            infos.append((name, tuple(reversed(dims)), qtype, cursor.unpack("<Q")))
        alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        data_start = -(-cursor.pos // alignment) * alignment
        tensors = {name: TensorInfo(name, shape, qtype, data_start + offset) for name, shape, qtype, offset in infos}
        for info in tensors.values():
            if info.offset + info.nbytes > len(data):
                raise GGUFFormatError(f"tensor {info.name} runs past the end of the file (truncated?)")
        return metadata, tensors

    def raw_rows(self, name: str) -> torch.Tensor:
        """A 2-D tensor's bytes as stored, [rows, row_bytes] uint8, without a copy (a view of the file)."""
        info = self.tensors[name]
        raw = self._map[info.offset:info.offset + info.nbytes]
        return torch.from_numpy(np.asarray(raw)).view(info.shape[0], -1)

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor as float32, in numpy (row-major) shape."""
        info = self.tensors[name]
        raw = self._map[info.offset:info.offset + info.nbytes]
        return dequantize_tensor(raw, info.qtype, info.shape)


# -- dequantization ---------------------------------------------------------------------------------

def dequantize_tensor(raw: np.ndarray, qtype: GGMLQuantizationType, shape: tuple[int, ...]) -> torch.Tensor:
    if qtype == GGMLQuantizationType.F32:
        values = torch.from_numpy(raw.view(np.float32).copy())
    elif qtype == GGMLQuantizationType.F16:
        values = torch.from_numpy(raw.view(np.float16)).float()
    elif qtype == GGMLQuantizationType.BF16:
        values = torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16).float()
    else:
        values = torch.from_numpy(np.asarray(dequantize(raw, qtype), dtype=np.float32))
    return values.reshape(shape)
