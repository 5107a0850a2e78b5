"""The package's import graph: no cycles, counting imports inside functions.

import-linter's layer contracts (``make lint``) say which folder may import which; a cycle
between two modules can still hide inside one folder, or behind an import written inside a
function to dodge it. grimp, import-linter's graph library, records every import statement,
function-local ones included; only imports under ``if TYPE_CHECKING:`` are left out.
"""

from __future__ import annotations

import grimp
import networkx as nx


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("meshsim", exclude_type_checking_imports=True)
    g = nx.DiGraph()
    for module in graph.modules:
        g.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            g.add_edge(module, imported)
    cycles = sorted(sorted(c) for c in nx.simple_cycles(g))
    assert cycles == [], f"{len(cycles)} import cycle(s), e.g. {cycles[:3]}"
