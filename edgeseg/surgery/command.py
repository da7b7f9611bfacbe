"""The `patch` and `inspect` verbs (the CLI imports `command` for patch and `inspect_verb` for inspect).

`edgeseg patch in.onnx -o out.onnx [--passes foreign,plugins,fold]` prints op counts before and after
and writes the output only when every pass succeeded. `edgeseg inspect model.onnx [--target trt11]
[--json]` prints I/O, op histogram, custom/plugin nodes and the lint.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from edgeseg.errors import EdgesegError
from edgeseg.outputs import check_output_file

# The pass and lint-target names, spelled here so that `--help` needs neither onnx nor
# onnx-graphsurgeon (registry.PASSES and lint.TARGETS are the truth; a test keeps them equal).
PASS_NAMES = ("foreign", "plugins", "normalize", "fold")
DEFAULT_PASSES = ("foreign", "plugins", "fold")
LINT_TARGETS = ("trt10.3", "trt11", "rtx1.7")

EXAMPLE_PATCH = "example: edgeseg patch model.onnx -o model.trt.onnx --passes foreign,plugins,fold"
EXAMPLE_INSPECT = "example: edgeseg inspect model.trt.onnx --target trt10.3"


def counts_table(before: Counter[str], after: Counter[str]) -> str:
    """Ops whose count changed (and totals), one row each, as aligned text."""
    changed = sorted(op for op in set(before) | set(after) if before[op] != after[op])
    rows = [("op", "before", "after")] + [(op, str(before[op]), str(after[op])) for op in changed]
    rows.append(("total", str(sum(before.values())), str(sum(after.values()))))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{op:<{width}}  {b:>6}  {a:>6}" for op, b, a in rows)


def run_patch(args: argparse.Namespace) -> int:
    if args.output == args.input:
        raise EdgesegError("the output path equals the input path; pass a different -o")
    check_output_file(args.output, "-o")  # before the graph is read and patched
    import onnx_graphsurgeon  # noqa: F401 - the [deploy] extra; missing, the CLI names it in one line

    from edgeseg.surgery.graphs import op_counts
    from edgeseg.surgery.io import load_model, save_model
    from edgeseg.surgery.registry import apply, parse_passes

    names = parse_passes(args.passes)
    model = load_model(args.input)
    patched, notes = apply(model, names)
    save_model(patched, args.output)
    print("\n".join(notes))
    print(counts_table(op_counts(model), op_counts(patched)))
    print(f"wrote {args.output}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    import onnx_graphsurgeon  # noqa: F401 - the [deploy] extra; missing, the CLI names it in one line

    from edgeseg.surgery.inspect import render_text, report
    from edgeseg.surgery.io import load_model

    rep = report(load_model(args.model), args.target)
    print(json.dumps(rep, indent=2) if args.json else render_text(rep))
    return 0


def _add_parser(
    subparsers: argparse._SubParsersAction, verb: str, help_text: str, example: str
) -> argparse.ArgumentParser:
    """Both verbs share this module's docstring as description and show their example verbatim."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        verb,
        help=help_text,
        description=__doc__,
        epilog=example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `patch` verb."""
    p = _add_parser(
        subparsers, "patch", "graph surgery: plugin nodes, foreign patterns, folding", EXAMPLE_PATCH
    )
    p.add_argument("input", help="ONNX model to patch")
    p.add_argument("-o", "--output", required=True, help="patched ONNX model (written only on success)")
    p.add_argument(
        "--passes",
        default=",".join(DEFAULT_PASSES),
        help=f"comma-separated, run in order; from {', '.join(PASS_NAMES)} (default %(default)s)",
    )
    p.set_defaults(func=run_patch)


def register_inspect(subparsers: argparse._SubParsersAction) -> None:
    """The `inspect` verb."""
    p = _add_parser(
        subparsers,
        "inspect",
        "show I/O, ops, plugin nodes and TensorRT lint of an ONNX model",
        EXAMPLE_INSPECT,
    )
    p.add_argument("model", help="ONNX model")
    p.add_argument("--target", choices=LINT_TARGETS, default=LINT_TARGETS[0],
                   help="TensorRT version to lint for")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_inspect)
