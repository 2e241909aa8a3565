"""The reliability drills, one module each; ``python -m bench.drill`` runs them (see its docstring).

Each module has a ``drill_*`` function (bounded load, a ``PASS``/``FAIL``
:class:`~bench.drills.common.Outcome`) and public scenario functions that the
fast tests in ``tests/reliability/`` run with smaller numbers.
"""
