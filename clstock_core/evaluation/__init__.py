"""Walk-forward evaluation of any predictor against baselines, with no look-ahead."""

from clstock_core.evaluation.walkforward import EvaluationResult, EvaluationSettings, evaluate

__all__ = ["EvaluationResult", "EvaluationSettings", "evaluate"]
