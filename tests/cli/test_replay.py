"""Every command's ``--recipe`` replay writes a byte-identical file (recipe included), and a
command's own default name, when taken, becomes the next free numbered one."""

from __future__ import annotations

import shutil

import pytest

from kdream.cli.main import main
from tests.cli.test_cli import write_photo

TINY = ["--weights", "random", "--quiet"]
DREAM = [*TINY, "--octaves", "1", "--steps", "2", "--tile-size", "96"]
MOTION = [*TINY, "--octaves", "1", "--steps", "1", "--tile-size", "96", "--max-side", "96"]

COMMANDS = {
    # name: (first run, its output (a default name, taken before it runs), replay's extra args)
    "dream": (["dream", "photo.png", *DREAM], "photo_dream-2.png", ["photo.png"]),
    "guided dream": (
        ["dream", "photo.png", "--guide", "guide.png", *DREAM],
        "photo_dream-2.png",
        ["photo.png", "--guide", "guide.png"],
    ),
    "style": (
        [
            "style",
            "photo.png",
            "guide.png",
            *TINY,
            "--size",
            "96",
            "--steps",
            "2",
            "--octaves",
            "1",
        ],
        "photo_styled-2.png",
        ["photo.png", "guide.png", "--quiet"],
    ),
    "visualize": (
        ["visualize", "--layer", "mixed3", "--channel", "5", "--size", "64", "--steps", "2", *TINY],
        "visualize_mixed3_5-2.png",
        ["--quiet"],
    ),
    "inspect": (
        ["inspect", "photo.png", "--layer", "mixed2", "--top", "4", "--cell", "48", *TINY[:2]],
        "photo_mixed2_maps-2.png",
        [],
    ),
    "zoom": (["zoom", "photo.png", "--frames", "2", "-o", "first/", *MOTION], "first", ["--quiet"]),
    "video frames": (["video", "clip", "-o", "first/", *MOTION], "first", ["clip", "--quiet"]),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_recipe_replay_writes_the_same_bytes(command, tmp_path, monkeypatch):
    first_run, output, replay_args = COMMANDS[command]
    monkeypatch.chdir(tmp_path)
    write_photo(tmp_path / "photo.png", size=(96, 112), seed=1)
    write_photo(tmp_path / "guide.png", size=(96, 112), seed=2)
    (tmp_path / "clip").mkdir()
    for index in (1, 2):
        shutil.copy(tmp_path / ("photo.png" if index == 1 else "guide.png"), f"clip/{index}.png")
    if output.endswith(".png"):  # kdream's default name is taken: the next number, no error
        (tmp_path / output.replace("-2.png", ".png")).write_bytes(b"keep me")
    assert main(first_run) == 0
    again = "again/" if first_run[0] in ("zoom", "video") else "again.png"
    assert main([first_run[0], "--recipe", output, *replay_args, "-o", again]) == 0
    if again == "again.png":
        assert (tmp_path / output).read_bytes() == (tmp_path / again).read_bytes()
        assert (tmp_path / output.replace("-2.png", ".png")).read_bytes() == b"keep me"
        return
    written = sorted(path.name for path in (tmp_path / output).iterdir())
    assert len([name for name in written if name.startswith("frame_")]) == 2
    assert written == sorted(path.name for path in (tmp_path / "again").iterdir())
    for name in written:
        assert (tmp_path / output / name).read_bytes() == (tmp_path / again / name).read_bytes()
