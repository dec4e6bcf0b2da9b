"""Classifier throughput against same-run baselines.

Measures whole-process wall time (start-up, model load, I/O included) on the same texts:
- `jieba-only`: a script that reads the JSON Lines and runs `jieba.lcut` on every text — the
  yardstick of the issue (predict must take at most 1.5x of it);
- `predict`: `python -m classifier predict --input IN --output OUT`;
- `snownlp`: SnowNLP's sentiment on a subsample (it is ~100x slower), as a reference point.
Texts are the first N reviews of ../shared/datasets/online_shopping_train.csv (read, never copied).

    python bench/classifier_bench.py [--n 21000] [--repeat 3] [--snownlp 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JIEBA_ONLY = """
import json, sys, jieba
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
for t in texts:
    jieba.lcut(t)
"""

SNOWNLP = """
import json, sys
from snownlp import SnowNLP
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
out = [SnowNLP(t).sentiments for t in texts]
json.dump(out, open(sys.argv[2], "w"))
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    from classifier.data import read_corpus

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=21000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--snownlp", type=int, default=1000, help="texts for the SnowNLP reference (0 = skip)")
    args = ap.parse_args()

    rows = read_corpus()[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps({"id": r.row, "text": r.text}, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        jieba_script = Path(tmp) / "jieba_only.py"
        jieba_script.write_text(JIEBA_ONLY, "utf-8")
        # Warm the OS page cache and jieba's dictionary cache once, for both sides alike.
        timed([sys.executable, str(jieba_script), str(src)])
        predict = [sys.executable, "-m", "classifier", "predict", "--input", str(src), "--output", str(Path(tmp) / "out.jsonl")]
        results: dict[str, list[float]] = {"jieba-only": [], "predict": [], "predict-1": []}
        for _ in range(args.repeat):
            results["jieba-only"].append(timed([sys.executable, str(jieba_script), str(src)]))
            results["predict"].append(timed(predict))
            results["predict-1"].append(timed([*predict, "--jobs", "1"]))
        base = statistics.median(results["jieba-only"])
        pred = statistics.median(results["predict"])
        single = statistics.median(results["predict-1"])
        lines = [
            f"Texts: {len(rows):,} reviews; median of {args.repeat} runs; whole-process wall time.",
            "",
            "| run | seconds | reviews/s | ratio to jieba-only |",
            "|---|---:|---:|---:|",
            f"| jieba-only (`jieba.lcut` per text) | {base:.2f} | {len(rows) / base:,.0f} | 1.00 |",
            f"| `python -m classifier predict` (default: one worker per core, {os.cpu_count()} here) | {pred:.2f} | "
            f"{len(rows) / pred:,.0f} | {pred / base:.2f} |",
            f"| `python -m classifier predict --jobs 1` | {single:.2f} | {len(rows) / single:,.0f} | {single / base:.2f} |",
        ]
        if args.snownlp:
            try:
                import snownlp  # noqa: F401
            except ImportError:
                lines.append("| SnowNLP | not installed (`pip install -e '.[bench]'`) | | |")
            else:
                sub = Path(tmp) / "sub.jsonl"
                sub.write_text("".join(src.read_text("utf-8").splitlines(keepends=True)[: args.snownlp]), "utf-8")
                snow_script = Path(tmp) / "snow.py"
                snow_script.write_text(SNOWNLP, "utf-8")
                t = timed([sys.executable, str(snow_script), str(sub), str(Path(tmp) / "snow.json")])
                rate = args.snownlp / t
                lines.append(f"| SnowNLP sentiments ({args.snownlp:,} texts) | {t:.2f} | {rate:,.0f} | "
                             f"{(len(rows) / rate) / base:.2f} (extrapolated) |")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
