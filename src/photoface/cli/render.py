"""``photoface render``: render the mean face of a face model to a PNG.

The handler imports its library lazily so that ``photoface --help`` stays fast.
"""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``photoface render`` on the top-level sub-parsers ``sub``."""
    p = sub.add_parser(
        "render",
        help="render a face model (.npz or builtin:demo / builtin:paper) to a PNG",
        description="Render the mean face of a face model. Angles in degrees: positive yaw turns "
        "the face to the subject's left, positive pitch tilts it down, positive roll turns it "
        "counter-clockwise in the image. The default pose is frontal and centred.",
    )
    p.add_argument("model", help="face-model .npz, or builtin:demo / builtin:paper")
    p.add_argument("--pitch", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument("--yaw", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument("--roll", type=float, default=0.0, help="degrees (default 0)")
    p.add_argument(
        "--light",
        default=None,
        help="light preset (front, flat, left, right, above, below, warm, dim) or 27 comma-separated "
        "SH coefficients, channel-major (default: the renderer's default light)",
    )
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("-o", "--out", required=True, help="output PNG")
    p.set_defaults(handler=render)


def render(args: argparse.Namespace) -> int:
    """``render``: write the PNG and print its path."""
    from photoface.apps.render_face import render_model_file
    from photoface.render.sh import parse_light

    light = None if args.light is None else parse_light(args.light)
    path = render_model_file(
        args.model, args.out, pitch=args.pitch, yaw=args.yaw, roll=args.roll,
        light=light, size=args.size,
    )
    print(path)
    return 0
