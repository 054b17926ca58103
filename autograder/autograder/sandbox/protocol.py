"""Plain-data messages between the trusted grader and the sandboxed worker.

Only data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, string-keyed dicts, and numeric
or boolean numpy arrays (torch tensors travel as arrays and are rebuilt as tensors on request). A pandas
``DataFrame`` (exactly that type, one level of row and column labels) travels as its parts: column labels, one
numeric array or list of plain values per column, the row labels and their name; the other side builds a new
frame from them (a numeric column keeps its dtype, any other gets the one pandas infers from its values).
Nothing is ever unpickled, so an object with a rigged ``__eq__`` or ``__array__`` cannot reach the trusted side.
A message is an 8-byte length, then a JSON header, then an ``.npz`` blob holding the arrays.

This module is also copied into the sandbox, so it imports only the standard library and numpy; pandas is
imported only when a value is already a frame, or a message holds one.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any, BinaryIO

import numpy as np

MAX_MESSAGE_BYTES = 256 * 2**20
ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float


class ProtocolError(ValueError):
    """A value that is not plain data, or a malformed message."""


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "numpy")


def _is_frame(value: Any) -> bool:
    """Exactly ``pandas.DataFrame`` (a subclass could override what its parts return)."""
    if not (type(value).__module__.startswith("pandas") and type(value).__name__ == "DataFrame"):
        return False
    import pandas

    return type(value) is pandas.DataFrame


def _encode_labels(labels: Any, arrays: dict[str, np.ndarray], depth: int, what: str) -> Any:
    """One column, or one axis of labels: a numeric array as it is, any other values one by one as plain data."""
    if getattr(labels, "nlevels", 1) != 1:
        raise ProtocolError(f"a DataFrame whose {what} have several levels cannot be sent; use reset_index() or "
                            "plain column names")
    values = labels.to_numpy()
    if values.dtype.kind in ARRAY_KINDS:
        return _encode(np.ascontiguousarray(values), arrays, depth + 1)
    if values.dtype.kind not in "OU":
        raise ProtocolError(f"a DataFrame's {what} of dtype {values.dtype} cannot be sent; use numbers or strings")
    return [_encode(item, arrays, depth + 1) for item in values.tolist()]


def _encode_frame(frame: Any, arrays: dict[str, np.ndarray], depth: int) -> dict:
    return {"__frame__": {
        "columns": _encode_labels(frame.columns, arrays, depth, "column names"),
        "data": [_encode_labels(frame.iloc[:, i], arrays, depth, f"column {frame.columns[i]!r}")
                 for i in range(frame.shape[1])],
        "index": _encode_labels(frame.index, arrays, depth, "row labels"),
        "index_name": _encode(frame.index.name, arrays, depth + 1),
    }}


def _decode_frame(parts: dict, arrays: dict[str, np.ndarray]) -> Any:
    """A new ``pandas.DataFrame`` built from decoded plain parts."""
    import pandas

    columns = [_decode(column, arrays, False) for column in parts["data"]]
    labels = _decode(parts["columns"], arrays, False)
    index = pandas.Index(_decode(parts["index"], arrays, False), name=_decode(parts["index_name"], arrays, False))
    if len(labels) != len(columns) or any(len(column) != len(index) for column in columns):
        raise ProtocolError("a DataFrame's parts do not fit together")
    frame = pandas.DataFrame(dict(enumerate(columns)), index=index)
    frame.columns = pandas.Index(labels)
    return frame


def _encode(value: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    if depth > 32:
        raise ProtocolError("value is nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"__float__": repr(value)}  # keeps nan/inf exact
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        return _encode(value.item(), arrays, depth + 1)
    if _is_tensor(value):
        key = f"a{len(arrays)}"
        arrays[key] = value.detach().cpu().numpy().copy()
        return {"__tensor__": key}
    if type(value) is np.ndarray:
        if value.dtype.kind not in ARRAY_KINDS:
            raise ProtocolError(f"arrays must hold numbers or booleans, not dtype {value.dtype}")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if type(value) in (list, tuple):
        items = [_encode(v, arrays, depth + 1) for v in value]
        return {"__tuple__": items} if type(value) is tuple else items
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            raise ProtocolError("dict keys must be strings")
        return {"__dict__": {k: _encode(v, arrays, depth + 1) for k, v in value.items()}}
    if _is_frame(value):
        return _encode_frame(value, arrays, depth + 1)
    raise ProtocolError(f"cannot send an object of type {type(value).__name__}; return arrays, numbers or a "
                        "pandas DataFrame")


def _decode(tree: Any, arrays: dict[str, np.ndarray], tensors: bool) -> Any:
    if isinstance(tree, list):
        return [_decode(v, arrays, tensors) for v in tree]
    if isinstance(tree, dict):
        if "__float__" in tree:
            return float(tree["__float__"])
        if "__array__" in tree:
            return arrays[tree["__array__"]]
        if "__tensor__" in tree:
            array = arrays[tree["__tensor__"]]
            if tensors:
                import torch

                return torch.from_numpy(array.copy())
            return array
        if "__tuple__" in tree:
            return tuple(_decode(v, arrays, tensors) for v in tree["__tuple__"])
        if "__dict__" in tree:
            return {k: _decode(v, arrays, tensors) for k, v in tree["__dict__"].items()}
        if "__frame__" in tree:
            return _decode_frame(tree["__frame__"], arrays)
        raise ProtocolError(f"unknown tagged value {sorted(tree)}")
    return tree


def unsupported(value: Any, error: ProtocolError) -> str:
    """What a student's function is told when its result is not plain data: by the worker under the grader, and by
    the checks in the notebook (so that both paths give the same verdict)."""
    return (f"returned an object of type {type(value).__name__} that is not plain data ({error}); return numpy "
            "arrays, numbers or a pandas DataFrame")


def encode(message: dict[str, Any]) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    header = json.dumps(_encode(message, arrays)).encode()
    blob = io.BytesIO()
    if arrays:
        np.savez(blob, **arrays)
    return struct.pack(">II", len(header), blob.tell()) + header + blob.getvalue()


def decode(data: bytes, *, tensors: bool = False) -> dict[str, Any]:
    if len(data) < 8:
        raise ProtocolError("truncated message")
    header_len, blob_len = struct.unpack(">II", data[:8])
    if 8 + header_len + blob_len != len(data):
        raise ProtocolError("message length mismatch")
    tree = json.loads(data[8 : 8 + header_len])
    arrays: dict[str, np.ndarray] = {}
    if blob_len:
        with np.load(io.BytesIO(data[8 + header_len :]), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    for array in arrays.values():
        if array.dtype.kind not in ARRAY_KINDS:
            raise ProtocolError(f"array of dtype {array.dtype} refused")
    message = _decode(tree, arrays, tensors)
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a dict")
    return message


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    data = encode(message)
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO, *, tensors: bool = False) -> dict[str, Any]:
    (length,) = struct.unpack(">Q", read_exactly(stream, 8))
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return decode(read_exactly(stream, length), tensors=tensors)
