"""MATLAB annotation files: loading them and walking their structs, with errors that name the file.

The pose datasets ship their labels as MATLAB v5 files whose structs are ragged
(a field may hold one struct, a struct array, a cell array or []). These
helpers load with `squeeze_me=True, struct_as_record=False` and give the
readers one way to turn any of those shapes into a plain list.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io

from jaxpaint.errors import JaxpaintError


def load_mat(path: str | os.PathLike, variable: str) -> object:
    """Loads `variable` from a MATLAB file; a missing, unreadable or v7.3 file raises JaxpaintError."""
    path = Path(path)
    if not path.is_file():
        raise JaxpaintError(f"annotation file {path} does not exist")
    try:
        contents = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False, variable_names=[variable])
    except NotImplementedError:
        raise JaxpaintError(f"annotation file {path} is a MATLAB v7.3 (HDF5) file; save it as v7 or earlier") from None
    except Exception as err:  # scipy raises many types for damaged files (ValueError, OSError, TypeError, zlib.error, ...)
        raise JaxpaintError(f"annotation file {path} cannot be read as a MATLAB file: {type(err).__name__}: {err}") from None
    if variable not in contents:
        raise JaxpaintError(f"annotation file {path} has no variable {variable!r}")
    return contents[variable]


def as_list(value: object) -> list:
    """A struct, struct array, cell array or [] as a Python list of its elements."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return list(value.ravel(order="F"))
        if value.size == 0:
            return []
    return [value]


def field(struct: object, name: str, path: Path, where: str) -> object:
    """struct.name, or a JaxpaintError naming the file, the place and the missing field."""
    if not hasattr(struct, "_fieldnames") or name not in struct._fieldnames:
        raise JaxpaintError(f"annotation file {path}: {where} has no field {name!r}")
    return getattr(struct, name)


def optional_field(struct: object, name: str, default: object = None) -> object:
    """struct.name, or `default` where the struct lacks that field."""
    if hasattr(struct, "_fieldnames") and name in struct._fieldnames:
        return getattr(struct, name)
    return default


def as_float_array(value: object, shape: tuple[int, ...], path: Path, where: str) -> np.ndarray:
    """A numeric array of exactly `shape` as float64, else a JaxpaintError naming the file."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise JaxpaintError(f"annotation file {path}: {where} is not numeric") from None
    if array.shape != shape:
        raise JaxpaintError(f"annotation file {path}: {where} has shape {array.shape}, expected {shape}")
    return array


def as_text(value: object, path: Path, where: str) -> str:
    """A MATLAB char array as str, else a JaxpaintError."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
        return str(value.item())
    raise JaxpaintError(f"annotation file {path}: {where} is not a string")


def as_scalar(value: object, path: Path, where: str) -> float | None:
    """A numeric scalar (or a one-element array or a digit string) as float; None where empty or absent."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise JaxpaintError(f"annotation file {path}: {where} is {value!r}, expected a number") from None
    array = np.asarray(value)
    if array.size == 0:
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise JaxpaintError(f"annotation file {path}: {where} is not a number")
    return float(array.reshape(()))
