"""Graph-VAE NAO on NAS-Bench-201 CIFAR-10: the graph VAE on its own, then the ``gvae-nao``
search for accuracy alone and for accuracy and parameters together (a sweep of the trade-off
weight, returning the Pareto front of the queried cells).

Small settings (a 300-cell training set, 30 queries) so that it runs in seconds;
docs/gvae_nao.md gives the defaults and measured results.  Uses the real NB201 table from
../shared/data (or $ARCHPERF_DATA_DIR) for test accuracy; without it, the embedded
validation-only data is searched and no test accuracy is shown.
"""

from __future__ import annotations

import numpy as np

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.nn.gvae import GraphVAE
from archperf.pareto import hypervolume_2d, reference_point

bench = NB201Benchmark("cifar10")
print("data:", bench.describe()["source"])

# ---- the model alone: encode, decode (always valid), predict
cells = bench.space.sample(400, seed=0)
train, held_out = cells[:300], cells[300:]
model = GraphVAE(bench.space, latent_dim=16, seed=0)
perf_y, cost_y = bench.lookup(train), bench.lookup(train, "params_mb")
model.fit(train, perf=perf_y, cost=cost_y, epochs=30, lr=3e-3, batch_size=32)
# a small training set: reconstruction generalises poorly (2,000 cells: see docs/gvae_nao.md)
for name, part in (("training", train[:100]), ("held-out", held_out)):
    rep = model.reconstruction(part)
    print(f"{name} reconstruction {rep['accuracy']:.2f}, valid share {rep['valid']:.2f}")
perf, params = model.predict(model.encode(held_out[:3]))
print("predicted val acc", np.round(perf, 2), "params (MB)", np.round(params, 3))

# ---- the search: accuracy only, then accuracy and parameters
fast = {"pool": 150, "epochs": 20, "round_epochs": 3, "steps": 30, "latent_dim": 16}
settings = {
    "accuracy only": dict(fast),
    "sweep lambda 0..2": {**fast, "cost": "params_mb", "lambdas": [0.0, 1.0, 2.0]},
}
acc_all, cost_all = bench.column("val"), bench.column("params_mb")
ref = reference_point(acc_all, cost_all)  # worst accuracy, largest network of the space
for name, kwargs in settings.items():
    oracle = bench.oracle(budget=30)  # the search sees validation accuracy only
    outcome = registry.create("search_method", "gvae-nao", **kwargs).search(oracle, seed=0)
    assert oracle.num_queries == 30  # the budget is spent exactly
    line = f"{name:18s} val {outcome.value:.2f}"
    if bench.report_metric is not None:  # test accuracy is read only now, after the search
        line += f"  test {bench.report([outcome.best])[0]:.2f}"
    archs = [r.arch for r in oracle.history]
    acc = np.array([r.value for r in oracle.history])
    hv = hypervolume_2d(acc, oracle.property_values(archs, "params_mb"), ref)
    print(line, f"  hypervolume {hv:.2f}  random fill-ins {outcome.info['filled_random']}")
    for cell in outcome.info.get("front", []):
        print(f"   front: val {cell['value']:.2f}  {cell['params_mb']:.3f} MB  {cell['arch']}")
