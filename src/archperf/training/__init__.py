"""Training: Bi-Arch2Perf, the semi-supervised adversarial trainer, in parts found by name.

* :mod:`.bi_arch2perf`: :class:`~.bi_arch2perf.BiArch2Perf`, the facade (fit, predict, save);
* :mod:`.config`: :class:`~.config.TrainerConfig`; :mod:`.history`: :class:`~.history.History`;
* :mod:`.assembly`: building PP, D and AG (D and AG only when trained adversarially);
* :mod:`.losses`: the pieces of the objectives; :mod:`.loop`: one step, and the epochs;
* :mod:`.checkpointing`: checkpoints and saved models (on the file machinery of
  :mod:`.checkpoint`); :mod:`.pool`: the unlabeled pool and pool averaging.
"""
