"""The generator-condition fix: AC-GAN class head, projection D, diversity terms, new config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.conditions import RankCondition
from archperf.interfaces import Condition
from archperf.nn.discriminator import GINDiscriminator
from archperf.nn.generator import ConditionalGenerator
from archperf.nn.serialization import load_component, save_component
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(n: int = 6):
    space = NB201Space()
    from archperf.cell import CellBatch

    cells = [space.to_graph(c) for c in space.sample(n, seed=0)]
    return CellBatch.from_cells(cells, len(space.op_names))


# -- config ---------------------------------------------------------------------------------------


def test_paper_config_turns_every_fix_off() -> None:
    cfg = TrainerConfig.paper(epochs=3)
    assert cfg.epochs == 3
    assert cfg.generator_conditions == "labeled"
    assert cfg.generator_batch_size is None
    assert cfg.discriminator_conditioning == "concat"
    assert cfg.class_loss_weight == 0.0 and cfg.class_loss_unlabeled_weight == 0.0
    assert not cfg.class_loss_balanced
    assert cfg.diversity_weight == 0.0
    assert cfg.predictor_guidance_weight == 0.0
    assert TrainerConfig.from_json(cfg.to_json()) == cfg


def test_default_config_conditions_the_generator() -> None:
    cfg = TrainerConfig()
    assert cfg.class_loss_weight > 0 and cfg.diversity_weight > 0
    assert cfg.predictor_guidance_weight > 0
    assert cfg.generator_conditions == "uniform"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("generator_conditions", "balanced"),
        ("generator_batch_size", 0),
        ("discriminator_conditioning", "film"),
        ("class_loss_weight", -1.0),
        ("class_loss_unlabeled_weight", float("nan")),
        ("diversity_weight", float("inf")),
        ("diversity", "kl"),
        ("choice_sharpness_weight", -0.5),
        ("predictor_guidance_weight", float("nan")),
        ("predictor_guidance_weight", -1.0),
        ("diversity_structure", "graph"),
        ("collision_target", 0.0),
        ("collision_target", 1.0),
        ("op_collision_target", -0.1),
        ("op_collision_target", 1.0),
    ],
)
def test_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrainerConfig(**{field: value})  # type: ignore[arg-type]


def test_continuous_condition_skips_the_class_loss() -> None:
    cells = NB201Space().sample(8, seed=0)
    y = np.linspace(70.0, 90.0, 8)
    cfg = TrainerConfig(condition={"type": "continuous"}, epochs=1, progress=False, device="cpu")
    tr = BiArch2Perf(cfg)
    tr.fit(cells, y, cells)
    assert tr.discriminator is not None and tr.discriminator.classifier is None
    assert np.isfinite(tr.history.loss_generator).all()


def test_class_loss_needs_a_class_head() -> None:
    cells = NB201Space().sample(8, seed=0)
    y = np.linspace(70.0, 90.0, 8)
    d = GINDiscriminator(num_classes=5, num_ops=7)
    tr = BiArch2Perf(TrainerConfig(epochs=1, progress=False, device="cpu"), discriminator=d)
    with pytest.raises(ValueError, match="class head"):
        tr.fit(cells, y, cells)


class _Deciles(Condition):  # a plugin condition: derives from Condition only
    """Two classes split at a fixed threshold; soft form a logistic of the prediction."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.num_classes = 2

    def encode(self, performance):  # type: ignore[no-untyped-def]
        return (np.asarray(performance, dtype=np.float64) <= self.threshold).astype(np.int64)

    def target(self, condition):  # type: ignore[no-untyped-def]
        return np.where(np.asarray(condition) == 0, self.threshold + 1.0, self.threshold - 1.0)

    def soft(self, pred: torch.Tensor, temperature: float) -> torch.Tensor:
        p0 = torch.sigmoid((pred - self.threshold) / temperature)
        return torch.stack([p0, 1 - p0], dim=1)

    def hard(self, pred: torch.Tensor) -> torch.Tensor:
        return (pred <= self.threshold).long()

    @property
    def best_class_threshold(self) -> float:
        return self.threshold


def test_a_condition_plugin_trains_through_its_own_soft_form() -> None:
    """The trainer reaches a condition only through the interface (soft, hard): a condition
    that is neither RankCondition nor ContinuousCondition trains, and one without a soft form
    is refused with a clear error."""
    cells = NB201Space().sample(12, seed=0)
    y = np.linspace(70.0, 90.0, 12)
    tr = BiArch2Perf(TrainerConfig(epochs=1, progress=False, device="cpu"), condition=_Deciles(80))
    tr.fit(cells, y, cells)
    assert np.isfinite(tr.history.loss_discriminator).all()

    class NoSoft(_Deciles):
        soft = Condition.soft  # type: ignore[assignment]

    tr = BiArch2Perf(TrainerConfig(epochs=1, progress=False, device="cpu"), condition=NoSoft(80))
    with pytest.raises(TypeError, match="no differentiable form"):
        tr.fit(cells, y, cells)


# -- invariants ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=40),
    st.floats(40.0, 95.0),
    st.integers(2, 6),
)
def test_hard_class_is_the_condition_encoding(preds: list[float], t: float, c: int) -> None:
    """The condition's own hard classes of predictions (the trainer's pseudo-labels) are its
    encoding, and its soft form puts the most probability on that class at low temperature."""
    cond = RankCondition(t, num_classes=c)
    pred = torch.tensor(preds, dtype=torch.float64)
    got = cond.hard(pred)
    assert got.tolist() == cond.encode(preds).tolist()
    soft = cond.soft(pred, 1e-4)
    assert torch.allclose(soft.sum(1), torch.ones(len(preds), dtype=torch.float64))
    away = (pred[:, None] - torch.tensor(cond.thresholds)[None, :]).abs().min(1).values > 1e-2
    assert soft.argmax(1)[away].tolist() == got[away].tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.floats(1e-6, 0.5))
def test_collision_penalty_invariants(seed: int, copies: int, target: float) -> None:
    """≥ 0; zero when the collision probability is below the target; the pairwise estimate on
    identical samples equals the per-sample one."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(1, 6, 5, generator=g), -1)
    batch = probs.expand(copies + 1, 6, 5)
    cls = torch.zeros(copies + 1, dtype=torch.long)
    per = BiArch2Perf(TrainerConfig(diversity="collision", collision_target=target))
    pair = BiArch2Perf(TrainerConfig(diversity="pair-collision", collision_target=target))
    p_per, p_pair = per._diversity(batch, cls), pair._diversity(batch, cls)
    assert float(p_per) >= 0.0
    torch.testing.assert_close(p_per, p_pair, rtol=1e-4, atol=1e-5)
    coll = float(probs.pow(2).sum(-1).prod())
    if coll <= target * 0.999:
        assert float(p_per) == 0.0
    elif coll > target * 1.001:
        assert float(p_per) > 0.0


# -- components -----------------------------------------------------------------------------------


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_discriminator_class_head(conditioning: str, tmp_path: Path) -> None:
    b = _batch()
    d = GINDiscriminator(
        num_classes=4, num_ops=7, conditioning=conditioning, aux_classifier=True, seed=0
    )
    cond = torch.tensor([0, 1, 2, 3, 0, 1])
    logit, classes = d.forward_with_classes(b, cond)
    assert logit.shape == (6,) and classes.shape == (6, 4)
    torch.testing.assert_close(logit, d(b, cond))
    torch.testing.assert_close(classes, d.classify(b))
    # the condition changes the logit, soft one-hot conditions match hard ones
    assert not torch.allclose(d(b, cond), d(b, (cond + 1) % 4))
    soft = torch.nn.functional.one_hot(cond, 4).float()
    torch.testing.assert_close(d(b, soft), d(b, cond))
    save_component(d, tmp_path / "d")
    d2 = load_component(tmp_path / "d")
    assert isinstance(d2, GINDiscriminator) and d2.conditioning == conditioning
    torch.testing.assert_close(d2.classify(b), classes)


def test_discriminator_class_head_errors() -> None:
    b = _batch()
    d = GINDiscriminator(num_classes=4, num_ops=7)
    with pytest.raises(RuntimeError, match="aux_classifier"):
        d.classify(b)
    with pytest.raises(ValueError, match="aux_classifier"):
        GINDiscriminator(num_classes=None, num_ops=7, aux_classifier=True)
    with pytest.raises(ValueError, match="conditioning"):
        GINDiscriminator(num_classes=4, num_ops=7, conditioning="film")


def test_paper_discriminator_and_generator_initialise_as_before() -> None:
    """The new options add modules after the paper's, so the paper's weights do not move."""
    d0 = GINDiscriminator(num_classes=5, num_ops=7, seed=1)
    d1 = GINDiscriminator(num_classes=5, num_ops=7, aux_classifier=True, seed=1)
    for k, v in d0.state_dict().items():
        assert torch.equal(v, d1.state_dict()[k]), k
    g0 = ConditionalGenerator("nb201", seed=2)
    g1 = ConditionalGenerator("nb201", latent_ops=True, seed=2)
    for k, v in g0.state_dict().items():
        assert torch.equal(v, g1.state_dict()[k]), k


@pytest.mark.parametrize(("space", "shape"), [("nb201", (6, 5)), ("darts", (28, 7))])
def test_generate_returns_choice_probabilities(space: str, shape: tuple[int, int]) -> None:
    g = ConditionalGenerator(space, seed=0, latent_ops=True)
    cond = torch.tensor([0, 4, 2])
    z_a, z_x = g.sample_latent(3, torch.Generator().manual_seed(0))
    cells, probs = g.generate(cond, z_a, z_x, generator=torch.Generator().manual_seed(1))
    assert probs.shape == (3, *shape)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, shape[0]))
    again = g(cond, z_a, z_x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(cells.ops, again.ops)
    assert ConditionalGenerator.from_config(g.config()).latent_ops


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_structure_leaves_op_only_spaces_unchanged(space: str) -> None:
    """Spaces that choose no edges (NB201) or whose edges are not described (DARTS) give the op
    choice probabilities, bit for bit, for every ``structure`` (NB201 results stay valid)."""
    g = ConditionalGenerator(space, seed=0, latent_ops=True)
    cond = torch.tensor([0, 4, 2])
    z_a, z_x = g.sample_latent(3, torch.Generator().manual_seed(0))
    op_logits, _ = g.scores(cond, z_a, z_x)
    ref = torch.softmax(g.decoder.choice_logits(op_logits) / g.tau, dim=-1)
    for structure in ("ops", "edges", "live"):
        _, probs = g.generate(cond, z_a, z_x, structure=structure)
        assert probs.shape == ref.shape
        assert torch.equal(probs, ref), structure
    _, probs = g.generate(cond, z_a, z_x)
    assert torch.equal(probs, ref)


def test_nb101_choice_probs_cover_the_cell() -> None:
    g = ConditionalGenerator("nb101", seed=0, latent_ops=True)
    cond = torch.tensor([0, 4, 2])
    z_a, z_x = g.sample_latent(3, torch.Generator().manual_seed(0))
    shapes = {"ops": (5, 3), "edges": (5 + 21, 3), "live": (5 + 21, 4)}
    for structure, shape in shapes.items():
        _, probs = g.generate(cond, z_a, z_x, structure=structure)
        assert probs.shape == (3, *shape)
        torch.testing.assert_close(probs.sum(-1), torch.ones(3, shape[0]))
        g.zero_grad()
        probs.pow(2).sum().backward()
        grads = g.parameter_groups()
        if structure != "ops":
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in grads["edge_decoder"])
    # "live": with only the path 0 -> 3 -> 6, the other vertices' ops and edges are sure outcomes
    op_logits, edge_logits = g.scores(cond, z_a, z_x)
    el = torch.full_like(edge_logits, -40.0)
    el[:, 0, 3] = el[:, 3, 6] = 40.0
    p = g.decoder.choice_probs(op_logits, el, 1.0, "live").detach()
    dead = [0, 1, 3, 4]  # interior vertices 1, 2, 4, 5
    torch.testing.assert_close(p[:, dead, 3], torch.ones(3, 4))
    assert float(p[:, 2, 3].max()) < 1e-6
    assert float(p[:, 5:].max(-1).values.min()) > 1 - 1e-6  # every edge is (nearly) sure
    with pytest.raises(ValueError, match="structure"):
        g.generate(cond, z_a, z_x, structure="graph")
    with pytest.raises(ValueError, match="diversity_structure"):
        TrainerConfig(diversity_structure="graph")


def test_latent_ops_lets_the_latent_move_the_ops() -> None:
    cond = torch.zeros(64, dtype=torch.long)
    spread = {}
    for latent in (False, True):
        g = ConditionalGenerator("nb201", latent_ops=latent, seed=0)
        z_a, z_x = g.sample_latent(64, torch.Generator().manual_seed(0))
        with torch.no_grad():
            p = torch.softmax(g.scores(cond, z_a, z_x)[0][:, 1:-1], -1)
        spread[latent] = float((p - p.mean(0)).abs().sum(-1).mean())
    assert spread[True] > spread[False]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skip_lets_edges_differ_within_a_cell(seed: int) -> None:
    """Without ``skip`` the GIN's node outputs over the dense soft graph are alike, so every
    NB101 edge of a cell gets (nearly) the same score; with it, edges differ by position."""
    cond = torch.zeros(64, dtype=torch.long)
    spread = {}
    for skip in (False, True):
        g = ConditionalGenerator("nb101", latent_ops=True, skip=skip, seed=seed)
        z_a, z_x = g.sample_latent(64, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            edges = g.scores(cond, z_a, z_x)[1]
        assert edges is not None
        iu = torch.triu_indices(7, 7, 1)
        spread[skip] = float(edges[:, iu[0], iu[1]].std(1).mean())
    assert spread[False] < 0.01 < 0.05 < spread[True]
    g = ConditionalGenerator("nb101", skip=True, seed=seed)
    again = ConditionalGenerator.from_config(g.config())
    assert again.skip
    again.load_state_dict(g.state_dict())
    z_a, z_x = g.sample_latent(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(g.scores(cond[:4], z_a, z_x)[1], again.scores(cond[:4], z_a, z_x)[1])


# -- behaviour ----------------------------------------------------------------------------------


def _score(cells: list) -> np.ndarray:
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    return 70 + 3.0 * (ops == 4).sum(1) + 1.5 * (ops == 3).sum(1) - 4.0 * (ops == 1).sum(1)


def _fit(cfg: TrainerConfig) -> BiArch2Perf:
    space = NB201Space()
    labeled = space.sample(80, seed=0)
    pool = space.sample(400, seed=1)
    tr = BiArch2Perf(cfg, space=space)
    tr.fit(labeled, _score(labeled), pool)
    return tr


def test_generator_obeys_its_condition_on_a_synthetic_score() -> None:
    """With a learnable made-up score, class-0 samples must score clearly above last-class ones
    and must not collapse; an ignored condition (the same cells for every class) fails this."""
    kw = dict(epochs=12, progress=False, device="cpu", seed=0, unlabeled_batch_size=64)
    tr = _fit(TrainerConfig(**kw))  # type: ignore[arg-type]
    assert tr.generator is not None and tr.condition is not None
    last = int(tr.condition.num_classes or 0) - 1
    best = tr.generator.sample(0, 300, seed=1)
    worst = tr.generator.sample(last, 300, seed=1)
    assert _score(best).mean() > _score(worst).mean() + 3.0
    texts = [NB201Space().to_text(c) for c in best]
    assert max(texts.count(t) for t in set(texts)) / len(texts) <= 0.1


def test_predictor_guidance_alone_conditions_the_generator() -> None:
    """With D's class head off, PP's soft rank of AG's cells is the only class signal AG gets:
    class-0 samples must still score clearly above last-class ones (a sign error or a term
    that never reaches AG fails this)."""
    kw = dict(epochs=12, progress=False, device="cpu", seed=0, unlabeled_batch_size=64)
    off = dict(class_loss_weight=0.0, class_loss_unlabeled_weight=0.0)
    tr = _fit(TrainerConfig(**kw, **off, predictor_guidance_weight=2.0))  # type: ignore[arg-type]
    assert tr.generator is not None and tr.condition is not None
    last = int(tr.condition.num_classes or 0) - 1
    best = tr.generator.sample(0, 300, seed=1)
    worst = tr.generator.sample(last, 300, seed=1)
    assert _score(best).mean() > _score(worst).mean() + 3.0


def _tiny_nb101_trainer(**overrides: Any) -> tuple[BiArch2Perf, list[Any], np.ndarray]:
    """A two-step NB101 trainer and 40 sampled cells with made-up labels."""
    from archperf.spaces.nb101 import NB101Space

    space = NB101Space()
    cells = space.sample(40, seed=0)
    y = np.linspace(80.0, 94.0, 40)
    base: dict[str, Any] = {
        "space": "nb101",
        "epochs": 1,
        "steps_per_epoch": 2,
        "progress": False,
        "device": "cpu",
        "unlabeled_batch_size": 16,
        "generator_batch_size": 16,
    }
    return BiArch2Perf(TrainerConfig(**(base | overrides)), space=space), cells, y


@pytest.mark.parametrize(
    ("structure", "sharp"), [("ops", 0.0), ("edges", 0.0), ("live", 0.0), ("live", 0.3)]
)
def test_nb101_trainer_runs_with_every_structure(structure: str, sharp: float) -> None:
    tr, cells, y = _tiny_nb101_trainer(diversity_structure=structure, choice_sharpness_weight=sharp)
    tr.fit(cells[:20], y[:20], cells[20:])
    assert tr.generator is not None
    assert len(tr.generator.sample(0, 5, seed=1)) == 5


def test_op_floor_sees_the_op_rows_and_moves_the_generator() -> None:
    """``op_collision_target``: NB101's op rows are the first n − 2 of every structure, and the
    floor changes AG's training when it binds (a target below any reachable collision) and
    leaves it alone when off."""
    g = ConditionalGenerator("nb101", seed=0)
    cond = torch.tensor([0, 1])
    z_a, z_x = g.sample_latent(2, torch.Generator().manual_seed(0))
    for structure in ("ops", "edges", "live"):
        _, probs = g.generate(cond, z_a, z_x, structure=structure)
        rows = g.op_choices(probs)
        assert rows.shape[1] == 5
        _, ops = g.generate(cond, z_a, z_x, structure="ops")
        if structure != "live":
            torch.testing.assert_close(rows[..., :3], ops)
    nb201 = ConditionalGenerator("nb201", seed=0)
    _, p201 = nb201.generate(cond, *nb201.sample_latent(2, torch.Generator().manual_seed(0)))
    assert torch.equal(nb201.op_choices(p201), p201)

    weights = {}
    for target in (0.0, 1e-9, -1.0):  # -1.0: off again, a second run (same seed, same weights)
        tr, cells, y = _tiny_nb101_trainer(seed=3, op_collision_target=max(target, 0.0))
        tr.fit(cells[:20], y[:20], cells[20:])
        assert tr.generator is not None
        weights[target] = torch.cat([q.detach().flatten() for q in tr.generator.parameters()])
    assert not torch.equal(weights[0.0], weights[1e-9])
    assert torch.equal(weights[0.0], weights[-1.0])


# -- the NB101 edge cap and pruning, seen by the trainer -----------------------------------------


def test_unpruned_cells_are_the_raw_graph_with_a_gradient_on_every_edge() -> None:
    g = ConditionalGenerator("nb101", seed=0, latent_ops=True, skip=True)
    cond = torch.tensor([0, 1, 2, 3])
    z_a, z_x = g.sample_latent(4, torch.Generator().manual_seed(0))
    raw, _ = g.generate(cond, z_a, z_x, generator=torch.Generator().manual_seed(1), unpruned=True)
    pruned, _ = g.generate(cond, z_a, z_x, generator=torch.Generator().manual_seed(1))
    assert bool(raw.mask.all())
    # the same noise: the raw graph holds every kept edge of the pruned cell, and more
    assert float(raw.adj.detach().sum()) >= float(pruned.adj.detach().sum())
    assert set(torch.unique(raw.adj.detach()).tolist()) <= {0.0, 1.0}
    assert float(raw.adj.detach().tril().abs().sum()) == 0.0
    g.zero_grad()
    raw.adj.sum().backward()
    grads = [p.grad for p in g.parameter_groups()["edge_decoder"]]
    assert all(gr is not None and float(gr.abs().sum()) > 0 for gr in grads)
    # spaces whose decoding repairs nothing: the same cells as relax
    g201 = ConditionalGenerator("nb201", seed=0)
    z_a, z_x = g201.sample_latent(3, torch.Generator().manual_seed(0))
    a, _ = g201.generate(cond[:3], z_a, z_x, generator=torch.Generator().manual_seed(2))
    b, _ = g201.generate(
        cond[:3], z_a, z_x, generator=torch.Generator().manual_seed(2), unpruned=True
    )
    assert torch.equal(a.ops, b.ops) and torch.equal(a.adj, b.adj)


@pytest.mark.parametrize("logit", [-6.0, 0.0, 6.0])
def test_over_limit_is_the_chance_of_more_than_nine_edges(logit: float) -> None:
    g = ConditionalGenerator("nb101", seed=0)
    dec = g.decoder
    op_logits = torch.zeros(2, 7, 3, requires_grad=True)
    edge_logits = torch.full((2, 7, 7), logit, requires_grad=True)
    for structure in ("edges", "live"):
        p = dec.choice_probs(op_logits, edge_logits, 1.0, structure)
        over = g.over_limit(p)
        assert over.shape == (2,)
        q = torch.sigmoid(torch.tensor(logit))
        if structure == "edges":  # 21 independent edges, each on with probability q
            counts = torch.arange(22, dtype=torch.float64)
            pmf = torch.exp(
                torch.lgamma(torch.tensor(22.0))
                - torch.lgamma(counts + 1)
                - torch.lgamma(22 - counts)
                + counts * torch.log(q.double())
                + (21 - counts) * torch.log1p(-q.double())
            )
            assert abs(float(over[0].detach()) - float(pmf[10:].sum())) < 0.05
        over.sum().backward()
    assert g.over_limit(dec.choice_probs(op_logits, edge_logits, 1.0, "ops")).eq(0).all()
    with pytest.raises(ValueError, match="limit_weight"):
        TrainerConfig(limit_weight=-1.0)


def test_fake_class_head_and_its_trainer_term() -> None:
    d = GINDiscriminator(num_classes=5, num_ops=7, aux_classifier=True, fake_class=True, seed=0)
    assert d.has_fake_class
    again = GINDiscriminator.from_config(d.config())
    assert again.has_fake_class and again.classifier is not None
    assert again.classifier.out_features == 6
    with pytest.raises(ValueError, match="fake_class needs aux_classifier"):
        GINDiscriminator(num_classes=5, num_ops=7, fake_class=True)
    kw = dict(epochs=2, progress=False, device="cpu", seed=0, unlabeled_batch_size=32)
    tr = _fit(TrainerConfig(class_loss_fake_weight=1.0, **kw))  # type: ignore[arg-type]
    assert isinstance(tr.discriminator, GINDiscriminator) and tr.discriminator.has_fake_class
    same = _fit(TrainerConfig(class_loss_fake_weight=1.0, **kw))  # type: ignore[arg-type]
    plain = _fit(TrainerConfig(**kw))  # type: ignore[arg-type]
    sd, sd2, sd0 = (t.generator.state_dict() for t in (tr, same, plain))  # type: ignore[union-attr]
    assert all(torch.equal(v, sd2[k]) for k, v in sd.items())
    assert not all(torch.equal(v, sd0[k]) for k, v in sd.items())
    user_d = GINDiscriminator(num_classes=5, num_ops=7, aux_classifier=True, seed=0)
    with pytest.raises(ValueError, match="class for generated"):
        space = NB201Space()
        BiArch2Perf(
            TrainerConfig(class_loss_fake_weight=1.0, **kw),
            space=space,  # type: ignore[arg-type]
            discriminator=user_d,
        ).fit(space.sample(20, seed=0), np.linspace(80, 90, 20), space.sample(40, seed=1))


def test_for_generation_applies_the_space_recipe() -> None:
    from archperf.training.config import GENERATION_RECIPES

    assert TrainerConfig.for_generation("nb201") == TrainerConfig(space="nb201")
    nb101 = TrainerConfig.for_generation("nb101", epochs=3)
    assert nb101.epochs == 3 and nb101.diversity_structure == "edges"
    assert (nb101.collision_target, nb101.op_collision_target) == (3e-8, 0.005)
    assert nb101.generator_batch_size == 256
    assert nb101.generator_kwargs["decoder_kwargs"] == {"keep_vertices": True}
    nb101.generator_kwargs["decoder_kwargs"]["keep_vertices"] = False  # a copy, not the table
    assert GENERATION_RECIPES["nb101"]["generator_kwargs"]["decoder_kwargs"]["keep_vertices"]
    darts = TrainerConfig.for_generation("darts", condition={"type": "rank", "quantile": 0.9})
    assert darts.condition == {"type": "rank", "quantile": 0.9}  # overrides win
    assert darts.generator_kwargs == {"skip": True}
    with pytest.raises(ValueError, match="op_collision_target"):
        TrainerConfig.for_generation("nb101", op_collision_target=2.0)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"limit_weight": 1.0, "diversity_weight": 0.0}, "limit_weight acts through"),
        ({"generator_unpruned": True, "diversity_weight": 0.0}, "generator_unpruned acts"),
        ({"limit_weight": 1.0, "diversity_structure": "ops"}, "needs the edge choices"),
        ({"class_loss_fake_weight": 1.0, "class_loss_weight": 0.0}, "needs class_loss_weight"),
        ({"class_loss_fake_weight": -1.0}, "class_loss_fake_weight must be"),
    ],
)
def test_new_generator_terms_refuse_settings_where_they_would_do_nothing(
    kw: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        TrainerConfig(**kw)
