"""Product images: checked to be real images, then resized to the standard sizes the pages use."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from vetrina.errors import InvalidInput, UnsupportedMedia
from vetrina.i18n import _

# Longest side of each standard size, in pixels.
IMAGE_SIZES = {"thumb": 160, "card": 480, "large": 1200}
MAX_SOURCE_PIXELS = 50_000_000  # refuses decompression bombs
MIN_SIDE = 32
_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def render_sizes(
    source: Path, out_dir: Path, sizes: dict[str, int] = IMAGE_SIZES, min_side: int = MIN_SIDE
) -> tuple[int, int]:
    """Write `{size}.jpg` for each of `sizes` (name: longest side) into `out_dir`; returns the source's size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if image.format not in _FORMATS:
                    raise UnsupportedMedia(
                        _("{format} images are not accepted; use JPEG, PNG, WebP or GIF.", format=image.format)
                    )
                if image.width * image.height > MAX_SOURCE_PIXELS:
                    raise InvalidInput(_("The image has too many pixels (limit 50 megapixels)."), field="file")
                image.load()
                upright = ImageOps.exif_transpose(image).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(_("The image has too many pixels (limit 50 megapixels)."), field="file") from None
    except UnidentifiedImageError:
        raise UnsupportedMedia(_("This file is not a readable image (JPEG, PNG, WebP or GIF).")) from None
    except OSError as exc:
        raise UnsupportedMedia(_("The image is damaged or truncated ({problem}).", problem=str(exc))) from None
    if min(upright.size) < min_side:
        raise InvalidInput(_("The image is smaller than {min_side} pixels on a side.", min_side=min_side), field="file")
    for name, longest in sizes.items():
        copy = upright.copy()
        copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        copy.save(out_dir / f"{name}.jpg", "JPEG", quality=85, optimize=True, progressive=True)
    return upright.size
