"""Stand-alone performance models (:class:`~archperf.interfaces.ArchPredictor`), registered
under the kind ``"arch_predictor"``.  Heavy packages (xgboost, torch) load only when a model is
built."""
