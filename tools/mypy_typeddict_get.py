"""mypy plugin: ``row.get("key")`` on a project TypedDict must name one of its keys.

PEP 589 lets ``TypedDict.get`` take any string, so mypy accepts ``site.get("heat_mw_hihg")``
(python/mypy#9902, #9906) and returns ``object``: a misspelt key of a site row read with
``.get`` would go unnoticed. This plugin reports it as mypy reports ``site["heat_mw_hihg"]``
(error code ``typeddict-item``), for the TypedDicts of ``pipeline``, ``models`` and ``aoi``
(the site row: :mod:`pipeline.core.site_row`), and leaves the return type to mypy's own hook.
Enabled in ``pyproject.toml`` (``[tool.mypy] plugins``).
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import StrExpr
from mypy.plugin import MethodContext, Plugin
from mypy.plugins.default import typed_dict_get_callback
from mypy.types import (
    Instance,
    LiteralType,
    Type,
    TypedDictType,
    UnionType,
    get_proper_type,
    get_proper_types,
)

#: Packages whose TypedDicts are checked.
PROJECT = ("pipeline.", "models.", "aoi.")


def _str_literals(ctx: MethodContext) -> list[str]:
    """Return the literal strings the key argument can be (none: not all literals).

    Also the items of a ``Final`` tuple of keys (``for k in KEYS``), which mypy types as a union
    of ``str`` instances with a last known literal value.
    """
    expr, typ = ctx.args[0][0], get_proper_type(ctx.arg_types[0][0])
    if isinstance(expr, StrExpr):
        return [expr.value]
    items = get_proper_types(typ.items) if isinstance(typ, UnionType) else [typ]
    out = []
    for item in items:
        if isinstance(item, Instance) and item.last_known_value is not None:
            item = item.last_known_value
        if not (isinstance(item, LiteralType) and isinstance(item.value, str)):
            return []
        out.append(item.value)
    return out


def _checked_get(ctx: MethodContext) -> Type:
    typ = get_proper_type(ctx.type)
    if (isinstance(typ, TypedDictType) and not typ.is_anonymous()
            and typ.fallback.type.fullname.startswith(PROJECT)
            and ctx.args and len(ctx.args[0]) == 1):
        for key in _str_literals(ctx):
            if key not in typ.items:
                ctx.api.msg.typeddict_key_not_found(typ, key, ctx.context)
    return typed_dict_get_callback(ctx)


class TypedDictGetPlugin(Plugin):
    """Check the literal key of ``Mapping.get`` on the project's TypedDicts."""

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        """Return the check for ``Mapping.get`` (the method ``TypedDict.get`` resolves to)."""
        return _checked_get if fullname == "typing.Mapping.get" else None


def plugin(version: str) -> type[Plugin]:
    """Return the plugin class (mypy's entry point)."""
    return TypedDictGetPlugin
