"""Lazy public names for a package (PEP 562), used by the ``rstref`` package."""

from importlib import import_module


def lazy_attributes(package, table, namespace, names):
    """Return ``(__getattr__, __dir__)`` resolving ``table[name]`` modules on first access.

    Parameters
    ----------
    package : str
        The package's name, for error messages.
    table : dict
        Public name -> module path that defines it.
    namespace : dict
        The package's ``globals()``; resolved names are cached there.
    names : list of str
        What ``dir(package)`` lists.
    """

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return names

    return __getattr__, __dir__
