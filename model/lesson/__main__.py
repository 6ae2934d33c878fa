"""``python -m model.lesson NETWORK... --out DIR``: write a lesson folder (see model.lesson)."""

from __future__ import annotations

import argparse
import sys

from model.lesson import TRUST_DIGITS, LessonError, folder_bytes, write_lesson


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.lesson",
        description="Write Explore's views of the networks as a folder of static files "
                    "(index.html) that runs from file://, a course page or a USB stick.")
    p.add_argument("networks", nargs="+", metavar="NETWORK",
                   help="a shipped network (seed, fast, ...) or a .safetensors checkpoint")
    p.add_argument("--out", required=True, help="the folder to write (new, empty or a lesson)")
    p.add_argument("--trust-digits", type=int, default=TRUST_DIGITS,
                   help=f"test digits the Trust table is measured on (default {TRUST_DIGITS})")
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    try:
        out = write_lesson(a.networks, a.out, a.trust_digits,
                           say=lambda s: print(s, file=sys.stderr, flush=True))
    except LessonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{out}/index.html ({folder_bytes(out) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
