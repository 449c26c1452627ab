"""archperf's own components, registered through the same hooks as third-party plugins.

Targets are lazy ``"module:attribute"`` strings so that listing plugins imports nothing heavy.
"""

from __future__ import annotations

from .hookspecs import Targets, hookimpl


@hookimpl
def archperf_search_spaces() -> Targets:
    return {
        "nb101": "archperf.spaces.nb101:NB101Space",
        "nb201": "archperf.spaces.nb201:NB201Space",
        "darts": "archperf.spaces.darts:DartsSpace",
    }


@hookimpl
def archperf_benchmarks() -> Targets:
    return {
        "nb201": "archperf.benchmarks.nb201:NB201Benchmark",
        "nb101": "archperf.benchmarks.nb101:NB101Benchmark",
        "nb301": "archperf.benchmarks.nb301:NB301Benchmark",
    }


@hookimpl
def archperf_encoders() -> Targets:
    return {"gin": "archperf.nn.gin:DenseGIN"}


@hookimpl
def archperf_predictors() -> Targets:
    return {"gin": "archperf.nn.predictor:GraphPredictor"}


@hookimpl
def archperf_discriminators() -> Targets:
    return {"gin": "archperf.nn.discriminator:GraphDiscriminator"}


@hookimpl
def archperf_generators() -> Targets:
    return {"semigan": "archperf.nn.generator:ConditionalGenerator"}


@hookimpl
def archperf_conditions() -> Targets:
    return {
        "rank": "archperf.conditions:RankCondition",
        "continuous": "archperf.conditions:ContinuousCondition",
    }


@hookimpl
def archperf_search_methods() -> Targets:
    return {
        "nacg": "archperf.search.nacg:NACG",
        "nacg-mr": "archperf.search.nacg:multi_round_nacg",
        "semigan-nad": "archperf.search.semigan:SemiGANNAD",
        "rs": "archperf.search.random:RandomSearch",
        "re": "archperf.search.evolution:RegularizedEvolution",
        "ls": "archperf.search.local:LocalSearch",
        "bananas": "archperf.search.guided:Bananas",
        "npenas": "archperf.search.guided:NPENAS",
        "npenas-space": "archperf.search.guided:npenas_space",
        "ganas": "archperf.search.ganas:GANAS",
        "gvae-nao": "archperf.search.gvae_nao:GVAENAO",
        "re-pareto": "archperf.search.pareto_evolution:ParetoEvolution",
    }


@hookimpl
def archperf_arch_predictors() -> Targets:
    return {
        "gin": "archperf.predictors.gin:GINArchPredictor",
        "xgb": "archperf.predictors.xgb:XGBPredictor",
        "feedforward": "archperf.predictors.mlp:MLPPredictor",
        "ssa": "archperf.predictors.ssa:SSAPredictor",
    }


@hookimpl
def archperf_decoders() -> Targets:
    return {
        "nb101": "archperf.nn.decoders:NB101Decoder",
        "nb201": "archperf.nn.decoders:NB201Decoder",
        "darts": "archperf.nn.decoders:DartsDecoder",
    }
