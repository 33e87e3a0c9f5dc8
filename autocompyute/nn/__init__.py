"""Layers and models: `Module`, `Parameter`, containers, layers, `functional`, `init`."""
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential  # noqa: F401
