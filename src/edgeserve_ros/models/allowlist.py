"""
Resolving dotted paths from config, restricted to allow-listed module prefixes.

A config may name a torch class or a function by dotted path; only objects defined in
modules under an allow-listed prefix (default :data:`DEFAULT_ALLOWED_PREFIXES`) are
accepted.  The module is checked *before* it is imported, and the resolved object's
own ``__module__`` is checked too, so a name re-exported by an allowed module (e.g.
``from os import system``) is refused.  The allow list is a loader argument chosen by
the deployer's code, never read from the model config itself.
"""

import importlib
from typing import Any, Sequence

DEFAULT_ALLOWED_PREFIXES = ('edgeserve_ros.models.zoo', 'edgeserve_ros.models.qr_pair',
                            'edgeserve_ros.models.digits')


class NotAllowedError(ValueError):
    """A dotted path resolves outside the allow-listed module prefixes."""


def _under(module: str, prefixes: Sequence[str]) -> bool:
    return any(module == p or module.startswith(p + '.') for p in prefixes)


def resolve_allowed(dotted: str, prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
                    where: str = 'target') -> Any:
    """
    Import ``module.attr`` named by ``dotted`` if it lives under an allowed prefix.

    :param dotted: e.g. ``'edgeserve_ros.models.zoo.MLPClassifier'``.
    :param prefixes: allowed module prefixes (a module matches a prefix if it equals it
        or is a submodule of it).
    :param where: config key path for error messages.
    :raises NotAllowedError: if the module or the object's defining module is not allowed.
    :raises ValueError: if the path is malformed or does not resolve.
    """
    module, _, attr = dotted.rpartition('.')
    if not module or not attr or attr.startswith('_'):
        raise ValueError(f'{where}: malformed dotted path {dotted!r}')
    if not _under(module, prefixes):
        raise NotAllowedError(
            f'{where}: {dotted!r} is not under an allowed module prefix {tuple(prefixes)}')
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f'{where}: cannot resolve {dotted!r}: {exc}') from exc
    defined_in = getattr(obj, '__module__', None)
    if not isinstance(defined_in, str) or not _under(defined_in, prefixes):
        raise NotAllowedError(
            f'{where}: {dotted!r} is defined in {defined_in!r}, outside the allowed prefixes')
    return obj
