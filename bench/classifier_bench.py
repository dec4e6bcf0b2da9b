"""Classifier throughput against same-run baselines.

Measures whole-process wall time (start-up, model load, I/O included) on the same texts, and the
CPU time (user + system) of the whole process tree, which stays meaningful when other work shares
the machine (wall time then measures the neighbours as much as the program):
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
import resource
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
    return run(cmd)[0]


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and every child it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
        commands = {"jieba-only": [sys.executable, str(jieba_script), str(src)], "predict": predict,
                    "predict-1": [*predict, "--jobs", "1"]}
        walls: dict[str, list[float]] = {k: [] for k in commands}
        cpus: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():  # interleaved, so load changes hit every command alike
                wall, cpu = run(cmd)
                walls[name].append(wall)
                cpus[name].append(cpu)
        wall = {k: statistics.median(v) for k, v in walls.items()}
        cpu = {k: statistics.median(v) for k, v in cpus.items()}
        load = os.getloadavg()[0]
        lines = [
            f"Texts: {len(rows):,} reviews; median of {args.repeat} interleaved runs; whole process (start-up, "
            f"model load, I/O included); 1-minute load average at the end {load:.1f} on {os.cpu_count()} cores.",
            "",
            "| run | wall s | reviews/s | wall ratio | CPU s | CPU ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        labels = {"jieba-only": "jieba-only (`jieba.lcut` per text)",
                  "predict": f"`python -m classifier predict` (default: one worker per core, {os.cpu_count()} here)",
                  "predict-1": "`python -m classifier predict --jobs 1`"}
        for name, label in labels.items():
            lines.append(f"| {label} | {wall[name]:.2f} | {len(rows) / wall[name]:,.0f} | "
                         f"{wall[name] / wall['jieba-only']:.2f} | {cpu[name]:.2f} | {cpu[name] / cpu['jieba-only']:.2f} |")
        base = wall["jieba-only"]
        if args.snownlp:
            try:
                import snownlp  # noqa: F401
            except ImportError:
                lines.append("| SnowNLP | not installed (`pip install -e '.[bench]'`) | | | | |")
            else:
                sub = Path(tmp) / "sub.jsonl"
                sub.write_text("".join(src.read_text("utf-8").splitlines(keepends=True)[: args.snownlp]), "utf-8")
                snow_script = Path(tmp) / "snow.py"
                snow_script.write_text(SNOWNLP, "utf-8")
                t = timed([sys.executable, str(snow_script), str(sub), str(Path(tmp) / "snow.json")])
                rate = args.snownlp / t
                lines.append(f"| SnowNLP sentiments ({args.snownlp:,} texts) | {t:.2f} | {rate:,.0f} | "
                             f"{(len(rows) / rate) / base:.2f} (extrapolated) | | |")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
