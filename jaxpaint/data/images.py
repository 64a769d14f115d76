"""Image files and atomic outputs: reading any source image as uint8 RGB, writing PNGs,
files and whole folders so that a failure never leaves a complete-looking result.

Readers and the competition track use these so that every unreadable file
fails the same way: a JaxpaintError naming the path.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from jaxpaint.errors import JaxpaintError

# A truncated JPEG must fail, not come back with a grey bottom half.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as uint8 (H, W, 3), or raises JaxpaintError naming the file.

    Grayscale, palette and CMYK become RGB; 16-bit samples are scaled to 8 bits
    (65535 -> 255), never clipped. Alpha: an image whose pixels are all opaque
    loads as its colours; one with any transparent pixel is refused, since the
    colour under it is undefined (docs/DESIGN.md, "Image files"). The EXIF
    orientation is not applied: joints, masks and blocks are all given on the
    stored pixel grid. The whole file is decoded here, so a truncated or
    corrupt file fails now rather than yielding partial pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise JaxpaintError(f"image {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with Image.open(path) as image:
            image.load()  # a full decode: PIL only reads the header on open
            array = _to_rgb(image, path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise JaxpaintError(f"image {path} cannot be decoded: {err}") from None
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise JaxpaintError(f"image {path} has an unusable shape {array.shape}")
    return array


def _to_rgb(image: Image.Image, path: Path) -> np.ndarray:
    """uint8 (H, W, 3) from a decoded PIL image of any mode (see load_rgb for the rules)."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grayscale (PNG, TIFF); PIL's convert("RGB") would clip everything above 255 to white.
        wide = np.asarray(image).astype(np.int64)
        if wide.size and (wide.min() < 0 or wide.max() > 65535):
            raise JaxpaintError(f"image {path}: {mode} samples outside 0..65535 are not an image jaxpaint can read")
        gray = ((wide * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        raise JaxpaintError(f"image {path}: floating-point images (mode F) are not supported; save it as 8-bit RGB")
    if "A" in mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        transparent = int(np.count_nonzero(alpha < 255))
        if transparent:
            raise JaxpaintError(
                f"image {path} has {transparent} transparent pixels (alpha < 255); their colour is undefined. "
                "Save it without transparency (flatten it onto the intended background)")
        return np.asarray(rgba, dtype=np.uint8)[..., :3].copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _check_image_array(array: np.ndarray, path: Path) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise JaxpaintError(f"cannot write {path}: image dtype is {array.dtype}, expected uint8")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise JaxpaintError(f"cannot write {path}: image shape {array.shape} is not (H, W), (H, W, 3) or (H, W, 4)")
    return np.ascontiguousarray(array)


def resize_pixels(image: np.ndarray, shape: tuple[int, int], resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """An (H, W[, C]) uint8 or float32 array resized to `shape` = (height, width) with PIL's `resample`."""
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), resample))


def encode_png(array: np.ndarray, path: str | os.PathLike = "<memory>") -> bytes:
    """PNG bytes of a uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array; same array, same bytes."""
    array = _check_image_array(array, Path(path))
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def current_umask() -> int:
    # os.umask can only be read by setting it; the lock keeps threads of this module from racing on it.
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, then renames it into place.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise JaxpaintError(f"cannot write {path}: {err}") from None
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, path)
    except BaseException as err:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise JaxpaintError(f"cannot write {path}: {err}") from None
        raise


def save_png_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes a uint8 image as PNG so that `path` is either absent, the old file, or complete."""
    write_bytes_atomic(path, encode_png(array, path))


class staged_directory:
    """Builds a folder under a temporary sibling name and renames it into place only on success.

    A failure part-way removes the staging folder, so `out_dir` is either absent
    or complete. An existing non-empty `out_dir` is refused up front; an empty
    one is replaced.

        with staged_directory(out_dir) as tmp:
            ...write files under tmp...
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        out = self.out_dir
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise JaxpaintError(f"output folder {out} already exists and is not empty; remove it or choose another")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
            self.tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private (0700)
        except OSError as err:
            raise JaxpaintError(f"cannot create output folder {out}: {err}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        out = self.out_dir
        try:
            if out.is_dir():
                out.rmdir()  # empty, checked on entry; a process that filled it since has won
            rename_noreplace(self.tmp, out)
        except OSError as err:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise JaxpaintError(f"output folder {out} was filled by another process while this one ran (the "
                                    f"same output given twice?); this run's output was discarded and {out} "
                                    "left as the other wrote it") from None
            raise JaxpaintError(f"cannot move the finished folder into {out}: {err}") from None
        return False


# renameat2(2) flags (linux/fs.h).
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2 through libc; False where it is missing (another OS, an old libc or kernel, a file
    system without the flag), so that the caller falls back. Other failures raise OSError."""
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(src), None, os.fspath(dst))


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Renames `src` to `dst`, failing (FileExistsError, or ENOTEMPTY for a filled folder) if `dst` exists,
    so that a finished output never replaces another process's. The fallback can replace an empty folder."""
    if _renameat2(Path(src), Path(dst), RENAME_NOREPLACE):
        return
    if os.path.lexists(dst) and not os.path.isdir(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst))
    os.rename(src, dst)  # a non-empty folder at dst makes this fail with ENOTEMPTY


def swap_directories(a: str | os.PathLike, b: str | os.PathLike) -> None:
    """Exchanges two folders in one step (RENAME_EXCHANGE): a reader, or a kill, sees either the old or the
    new one under each name. The fallback takes three renames, with `b` briefly absent but never partial."""
    a, b = Path(a), Path(b)
    if _renameat2(a, b, RENAME_EXCHANGE):
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{b.name}.", suffix=".old", dir=b.parent))
    os.replace(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def check_output_path(out: str | os.PathLike, flag: str, inputs: dict[str, str | os.PathLike | None],
                      allow_inside: tuple[str, ...] = ()) -> None:
    """Refuses an output path that is an input, lies inside an input folder, or holds one.

    inputs: flag -> path (None entries are skipped); paths are compared after resolving
    symlinks and "..". allow_inside names inputs that the output may lie inside
    (e.g. an evaluation folder inside its run's workdir).
    """
    target = Path(out).resolve()
    for name, given in inputs.items():
        if given is None:
            continue
        source = Path(given).resolve()
        if target == source:
            problem = "is the same path as"
        elif target.is_relative_to(source) and name not in allow_inside:
            problem = "lies inside"
        elif source.is_relative_to(target):
            problem = "holds"
        else:
            continue
        raise JaxpaintError(f"{flag} {out} {problem} the input {name} {given}; writing there would overwrite the "
                            f"input. Choose another {flag}")
