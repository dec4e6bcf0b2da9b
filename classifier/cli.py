"""`python -m classifier predict|train|evaluate` (see ../shared/CONTRACT.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

# Reviews per unit of work: large enough to amortise the sparse-matrix set-up, small enough that
# several workers stay busy on a 20k-review file.
BATCH = 1000


class InputError(Exception):
    """A line of the input file is not a review object."""


def _open_in(path: str) -> IO[str]:
    return sys.stdin if path == "-" else open(path, encoding="utf-8")


def _open_out(path: str) -> IO[bytes]:
    return sys.stdout.buffer if path == "-" else open(path, "wb")


def _read_items(fh: IO[str], source: str) -> Iterator[tuple[Any, str]]:
    import orjson

    for lineno, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{source} line {lineno}: not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or "id" not in obj:
            raise InputError(f"{source} line {lineno}: expected an object with \"id\" and \"text\"")
        text = obj.get("text")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise InputError(f"{source} line {lineno}: \"text\" must be a string")
        yield obj["id"], text


def _batches(items: Iterator[tuple[Any, str]], size: int) -> Iterator[list[tuple[Any, str]]]:
    batch: list[tuple[Any, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _default_jobs() -> int:
    # Fork shares the loaded model and jieba's dictionary with the children copy-on-write; where
    # fork is unavailable or unsafe (macOS, Windows) the batch runs in-process.
    if sys.platform != "linux":
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), 8))


_worker_model = None


def _score_chunk(job: tuple[list[tuple[Any, str]], bool]) -> bytes:
    # orjson: encoding the output lines with the standard library cost about a quarter of the
    # scoring time of a batch; orjson writes the same JSON (UTF-8, no ASCII escapes) ~15x faster.
    import orjson

    chunk, explain = job
    preds = _worker_model.predict_many([t for _, t in chunk], explain=explain)
    return b"".join(orjson.dumps(p.to_json(i)) + b"\n" for (i, _), p in zip(chunk, preds, strict=True))


def cmd_predict(args: argparse.Namespace) -> int:
    global _worker_model
    from itertools import chain

    try:
        fin = _open_in(args.input)
    except OSError as exc:
        raise InputError(f"cannot read {args.input}: {exc.strerror or exc}") from exc
    count = 0
    try:
        batches = _batches(_read_items(fin, args.input), args.batch_size)
        # The first batch is read before the model loads, so a malformed file fails at once.
        first = next(batches, None)
        from classifier.model import get_classifier  # numpy, scipy and jieba: only for valid input

        model = get_classifier(args.models)
        model.predict("预热")  # build jieba's dictionary before any fork, so children inherit it
        _worker_model = model
        jobs = args.jobs or _default_jobs()
        explain = args.explain and not args.no_explain
        chunks = ((batch, explain) for batch in chain([first] if first else [], batches))
        try:
            fout = _open_out(args.output)
        except OSError as exc:
            raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        try:
            if jobs > 1 and first is not None and len(first) >= args.batch_size:
                import gc
                import multiprocessing

                # Everything loaded so far (model, jieba's dictionary) is shared with the children
                # copy-on-write; freezing keeps the collector from writing to those objects'
                # headers, which would copy their pages into every child.
                gc.freeze()
                with multiprocessing.get_context("fork").Pool(jobs) as pool:
                    # imap keeps input order; one chunk of look-ahead per worker bounds memory on huge inputs.
                    for text in pool.imap(_score_chunk, chunks):
                        fout.write(text)
                        count += text.count(b"\n")
            else:  # one batch or less: a pool would cost more than it saves
                for job in chunks:
                    text = _score_chunk(job)
                    fout.write(text)
                    count += text.count(b"\n")
        finally:
            if fout is sys.stdout.buffer:
                fout.flush()
            else:
                fout.close()
    finally:
        if fin is not sys.stdin:
            fin.close()
    print(f"scored {count} reviews with {model.version}", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from classifier.data import DataError, read_extra
    from classifier.model_card import write_model_card
    from classifier.train import train

    out = Path(args.output)
    extra = []
    for path in args.extra:
        try:
            extra += read_extra(Path(path))
        except DataError as exc:
            raise InputError(str(exc)) from exc
    try:
        meta = train(out, extra=extra, log=lambda msg: print(msg, file=sys.stderr))
    except DataError as exc:
        raise InputError(str(exc)) from exc
    write_model_card(meta, out / "README.md")
    print(f"wrote {meta['version']} to {out}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from classifier.data import DataError
    from classifier.evaluate import UNSEEN, evaluate

    unseen = None
    if args.unseen is not None:
        unseen = Path(args.unseen) if args.unseen else UNSEEN
        if not unseen.exists():
            raise InputError(f"no unseen-category test set at {unseen}")
    try:
        report = evaluate(Path(args.models), labelled=args.input, unseen=unseen)
    except DataError as exc:
        raise InputError(str(exc)) from exc
    if args.record:
        if unseen is None:
            raise InputError("--record goes with --unseen")
        _record_unseen(Path(args.models), report)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _record_unseen(models: Path, report: dict[str, Any]) -> None:
    """Keep the unseen-set figures in the model's metadata and re-render the model card. The
    arrays (and so the checksum and version) are untouched."""
    from classifier.model_card import write_model_card
    from classifier.shipped import MODEL_NAME

    meta_path = models / f"{MODEL_NAME}.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    if meta.get("version") != report["version"]:
        raise InputError("the model changed while it was being measured")
    meta.setdefault("figures", {})["unseen"] = report["unseen"]
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    write_model_card(meta, models / "README.md")
    print(f"recorded the unseen-set figures in {meta_path} and {models / 'README.md'}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from classifier.shipped import model_dir

    p = argparse.ArgumentParser(prog="python -m classifier", description="Review sentiment and complaint causes.")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="score JSON Lines {id, text}; output in the same order")
    pr.add_argument("--input", required=True, help="JSON Lines file, or - for stdin")
    pr.add_argument("--output", required=True, help="JSON Lines file, or - for stdout")
    pr.add_argument("--models", default=str(model_dir()))
    pr.add_argument("--explain", action="store_true",
                    help="add the terms that drove each decision (`terms`, `cause_terms`); off by default, it costs time")
    pr.add_argument("--no-explain", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    pr.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per CPU core)")
    pr.add_argument("--batch-size", type=int, default=BATCH, help=argparse.SUPPRESS)
    tr = sub.add_parser("train", help="rebuild the shipped models from ../shared data and labels/")
    tr.add_argument("--output", default=str(model_dir()))
    tr.add_argument("--extra", action="append", default=[], metavar="FILE",
                    help='JSON Lines {"text", "sentiment": "negative"|"positive"|null, "causes": [...]|null} '
                         "to train on as well (e.g. agents' corrections); may be given more than once")
    ev = sub.add_parser("evaluate", help="measure the shipped models on the validation splits")
    ev.add_argument("--models", default=str(model_dir()))
    ev.add_argument("--input", help="optional JSON Lines {text, sentiment, causes} to measure on as well")
    ev.add_argument("--unseen", nargs="?", const="", default=None, metavar="FILE",
                    help="measure only on the independent unseen-category test set "
                         "(default labels/eval_unseen.jsonl): per category and per cause, with 95%% intervals")
    ev.add_argument("--record", action="store_true",
                    help="with --unseen: store the figures in the model's metadata and model card")
    args = p.parse_args(argv)
    handler = {"predict": cmd_predict, "train": cmd_train, "evaluate": cmd_evaluate}[args.command]
    try:
        return handler(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
