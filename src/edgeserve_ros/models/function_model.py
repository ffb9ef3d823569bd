"""
``function`` kind: an allow-listed batch function named by dotted path.

The function is called as ``fn(batch, **params)`` with the raw input dicts and must
return one result per input: a :class:`~.types.Prediction` or a plain label.
"""

from typing import Any, Callable, Dict, List

from .types import Inputs, Prediction


class FunctionModel:
    """
    Adapter around ``fn(batch: list[dict], **params) -> list``.

    :param fn: the resolved (allow-listed) function.
    :param params: keyword arguments from the config.
    """

    def __init__(self, fn: Callable[..., List[Any]], params: Dict[str, Any]) -> None:
        self.fn = fn
        self.params = dict(params)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Call the function and wrap plain results as predictions."""
        if not inputs:
            return []
        out = list(self.fn(inputs, **self.params))
        if len(out) != len(inputs):
            raise ValueError(f'function returned {len(out)} results for {len(inputs)} inputs')
        return [r if isinstance(r, Prediction) else Prediction(label=r) for r in out]
