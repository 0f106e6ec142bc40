"""scikit-learn's estimator protocol for :class:`~krrcli.KernelRidge`, without importing scikit-learn.

scikit-learn finds what an estimator is through duck typing: ``get_params``/``set_params`` (for
``clone`` and ``GridSearchCV``), ``__sklearn_tags__`` (for ``Pipeline``, ``is_regressor``, the
checks), ``__sklearn_is_fitted__`` (for ``check_is_fitted``) and ``score``. KernelRidge defines those
itself; this module holds the two parts that need scikit-learn's own classes, and imports scikit-learn
only when scikit-learn calls them, so krr imports and runs without it.
"""

from __future__ import annotations

import sys
from typing import Any

from .errors import NotFittedError

_combined: dict[type, type] = {}


def estimator_tags(*, multi_output: bool = True) -> Any:
    """The ``Tags`` of a regressor that takes dense 2-D float input, one or several targets, no NaN."""
    from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

    return Tags(
        estimator_type="regressor",
        target_tags=TargetTags(required=True, single_output=True, multi_output=multi_output),
        regressor_tags=RegressorTags(),
        input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
    )


def not_fitted(message: str) -> NotFittedError:
    """krr's :class:`NotFittedError`, also an instance of scikit-learn's ``NotFittedError`` when
    scikit-learn has been imported (code that catches scikit-learn's class has imported it)."""
    module = sys.modules.get("sklearn.exceptions")
    if module is None:
        return NotFittedError(message)
    base = module.NotFittedError
    cls = _combined.get(base)
    if cls is None:
        cls = type("NotFittedError", (NotFittedError, base), {"__module__": NotFittedError.__module__})
        _combined[base] = cls
    return cls(message)
