"""Ops grouped by family; each file holds the Op classes and the user-facing functions over them."""
from .base import Op


def all_ops():
    """Every concrete Op class, found by walking the subclass tree (the completeness tests use this)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):  # make sure every family is imported
        importlib.import_module(f"{__name__}.{module.name}")

    found, stack = [], [Op]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not sub.__name__.startswith("_"):
                found.append(sub)
    return sorted(set(found), key=lambda c: (c.__module__, c.__name__))
