"""A wall clock burned into a live picture, so glass-to-glass latency can be measured: a strip of CLOCK_BITS blocks
along the picture's top-left edge, block k white when bit k of the milliseconds since `base_us` (the wall clock, in
microseconds since the epoch) is set at the moment the frame is taken. Whoever shows the frame reads the blocks back
and compares with its own clock: the demo feed carries it, and so do the live tests and `bench/live_show.py`."""

from __future__ import annotations

CLOCK_BITS = 24  # 4.6 hours of milliseconds
BLOCK_PX = 16  # in the source picture; a 360p rung of a 480p source still draws each block 12 px wide


def clock_strip_filter(base_us: int, source: str = "0:v", output: str = "clocked") -> str:
    """An ffmpeg filtergraph from `[source]` to `[output]` with the clock strip on top; the frames are stamped by the
    wall clock as they are read (RTCTIME), so with `-re` a frame's reading is when it was taken."""
    width = CLOCK_BITS * BLOCK_PX
    bits = f"255*mod(floor(T*1000/pow(2\\,floor(X/{BLOCK_PX})))\\,2)"
    return (
        f"[{source}]setpts='(RTCTIME-{base_us})/(TB*1000000)',split[clock_picture][clock_area];"
        f"[clock_area]crop={width}:{BLOCK_PX}:0:0,format=yuv420p,geq=lum='{bits}':cb=128:cr=128[clock_strip];"
        f"[clock_picture][clock_strip]overlay=0:0[{output}]"
    )


# Reads the strip off a <video> in a page, for Playwright's `evaluate(READ_CLOCK_JS, [source_width])`: the frame's
# milliseconds since the base and the page's wall clock when read, or null before a frame is shown.
READ_CLOCK_JS = f"""([sourceWidth]) => {{
  const video = document.querySelector("video");
  if (!video || !video.videoWidth || video.readyState < 2) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", {{ willReadFrequently: true }});
  context.drawImage(video, 0, 0);
  const scale = video.videoWidth / sourceWidth;
  let ms = 0;
  for (let k = 0; k < {CLOCK_BITS}; k++) {{
    const x = Math.floor((k * {BLOCK_PX} + {BLOCK_PX} / 2) * scale), y = Math.floor({BLOCK_PX} / 2 * scale);
    const [r, g, b] = context.getImageData(x, y, 1, 1).data;
    if (r + g + b > 384) ms += 2 ** k;
  }}
  return {{ ms, now: Date.now() }};
}}"""
