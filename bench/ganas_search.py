"""GA-NAS beside RS and RE at the same budget, through the experiment runner (the machinery of
``bench/baselines_search.py``: every run searches on the search metric and reports the test
metric of its final cell, read once after the search; honest protocol unless ``--protocol``).

Run (main table):
    python bench/ganas_search.py --datasets cifar10 cifar100 imagenet16-120 --seeds 10
        --out bench/results/ganas_nb201.json
Run (sensitivity of two settings, CIFAR-10):
    python bench/ganas_search.py --seeds 10 --methods 'ganas:{"top_k": 5}'
        'ganas:{"top_k": 20}' 'ganas:{"samples_per_iter": 10}' 'ganas:{"samples_per_iter": 40}'
        --out bench/results/ganas_nb201_sensitivity.json
Defaults: ``--benchmark nb201 --datasets cifar10 --budgets 100 --methods rs re ganas``; any
option of ``bench/baselines_search.py`` is accepted.  Skips with a message without the data.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

DEFAULTS = {
    "--benchmark": ["nb201"],
    "--datasets": ["cifar10"],
    "--budgets": ["100"],
    "--methods": ["rs", "re", "ganas"],
}


def main(argv: list[str]) -> int:
    path = Path(__file__).with_name("baselines_search.py")
    spec = importlib.util.spec_from_file_location("baselines_search", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = list(argv)
    for opt, values in DEFAULTS.items():
        if opt not in args:
            args += [opt, *values]
    sys.argv = [str(path), *args]
    rc = int(mod.main())
    out = Path(args[args.index("--out") + 1]) if "--out" in args else None
    if rc == 0 and out is not None and out.exists():
        data = json.loads(out.read_text(encoding="utf-8"))
        data["script"] = "bench/ganas_search.py"
        data["argv"] = list(argv)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
