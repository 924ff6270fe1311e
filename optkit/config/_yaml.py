"""YAML that cannot hang or mislead: ``yaml.safe_load`` with three budgets checked while the
document is composed, before anything is built.

- **Alias expansion.** An alias is a reference, so a "billion laughs" document of nine levels
  of ten aliases is tiny on disk but expands to 10⁹ nodes in anything that walks it (the
  override deep copy, the schema). The composer counts every node as it would be after
  expansion (an alias counts the whole node it names) and stops past
  :data:`optkit._limits.MAX_YAML_NODES`.
- **Depth.** Composition and construction recurse once per level; past
  :data:`optkit._limits.MAX_NESTING` levels the document is refused with its line, instead of
  a ``RecursionError``.
- **Duplicate keys.** YAML says mapping keys are unique, but PyYAML silently keeps the last
  value; here a repeated key is an error naming the key and both lines. Keys brought in by a
  merge (``<<: *defaults``) may still be overridden, as YAML's merge intends.

Errors are ``yaml.MarkedYAMLError`` subclasses, so ``yaml_one_line`` renders them as
``problem (line L, column C)``.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from .. import _limits


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._node_budget = _limits.MAX_YAML_NODES.value
        self._depth_budget = _limits.MAX_NESTING.value
        self._sizes: dict[int, int] = {}

    def _count(self, nodes: int, mark: Any) -> None:
        self._expanded += nodes
        if self._expanded > self._node_budget:
            raise ComposerError(
                None, None,
                f"the document expands to more than {self._node_budget:,} nodes (aliases "
                f"counted in full: an alias bomb?); {_limits.MAX_YAML_NODES.knob()}", mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > self._depth_budget:
            raise ComposerError(None, None, f"nested more than {self._depth_budget} levels deep "
                                f"({_limits.MAX_NESTING.knob()})", mark)
        before = self._expanded
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, mark)
        # an anchored node may be aliased later: remember how much it expands to
        self._sizes[id(node)] = self._expanded - before
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                        key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable: the base constructor says so
                    continue
                if first is not key_node:
                    raise ConstructorError(
                        None, None,
                        f"duplicate key {key!r} (first given on line "
                        f"{first.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# the SafeLoader's constructors are registered on its class; the subclass inherits them
_LimitedLoader.add_constructor("tag:yaml.org,2002:map", _LimitedLoader.construct_yaml_map)


def load(text: str) -> Any:
    """``yaml.safe_load(text)`` with the alias, depth and duplicate-key checks above.

    Raises:
        yaml.YAMLError: invalid YAML or a budget exceeded (a ``MarkedYAMLError`` with the
            line and column).
    """
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ComposerError(None, None, "nested too deeply to read", None) from None
    finally:
        loader.dispose()
