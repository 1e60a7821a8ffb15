"""Video input and output for ``kdream zoom`` and ``kdream video``: frames in, frames out.

numpy + Pillow + PyAV (FFmpeg, bundled in its wheel) only; no Keras here, so the CLI can probe
an input before any backend loads.

Reading: a video file (MP4, MOV, MKV, WebM, AVI, GIF, ...: decoded by FFmpeg; animated WebP by
Pillow, which this FFmpeg cannot decode) or a folder of images (sorted by name, numbers
compared as numbers) gives ``uint8`` HxWx3 RGB frames. Every way an input can be bad is a
:class:`VideoInputError` whose message is one line naming the file, never a PyAV traceback.
Untrusted files only reach FFmpeg's common video demuxers and its ``file`` protocol: playlists
(HLS), concat lists and URLs are refused, so a "video" cannot pull in other files.

Writing: each dreamed frame is an atomic PNG (``frame_000001.png``) carrying its recipe, so an
interrupted run resumes from the frames on disk; :func:`assemble` turns them into MP4/MOV/MKV
(H.264), GIF or animated WebP, atomically, with the recipe in a sidecar ``<output>.json`` and,
where the format has room, in the file itself:

* MP4/MOV/MKV: the container's ``comment`` tag, the recipe as plain JSON.
* GIF: the comment extension, ``kdream:`` followed by the JSON (as JPEG comments in imageio).
* WebP: the EXIF UserComment, ``kdream:`` followed by the JSON (as still WebPs in imageio).
"""

from __future__ import annotations

from .formats import (
    DEFAULT_FPS,
    FOLDER_RECIPE,
    IMAGE_SUFFIXES,
    OUTPUT_SUFFIXES,
    VIDEO_SUFFIXES,
    VideoInputError,
)
from .frames import frame_files, frame_path, frame_pixels, write_frame, written_frames
from .reading import VideoInfo, probe, read_frames
from .recipes import read_video_recipe
from .writing import assemble, sidecar_path, video_encoder

__all__ = [
    "DEFAULT_FPS",
    "FOLDER_RECIPE",
    "IMAGE_SUFFIXES",
    "OUTPUT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VideoInfo",
    "VideoInputError",
    "assemble",
    "frame_files",
    "frame_path",
    "frame_pixels",
    "probe",
    "read_frames",
    "read_video_recipe",
    "sidecar_path",
    "video_encoder",
    "write_frame",
    "written_frames",
]
