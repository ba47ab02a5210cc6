"""Formal property checks of zeroskip's RTL, proved with SymbiYosys and z3.

Harnesses (:mod:`.queue`, :mod:`.nm`, :mod:`.eie`) build a block with its
properties; :mod:`.runner` writes the SymbiYosys job and runs ``yowasp-sby``;
:mod:`.checks` lists every check with its mode and depth. ``python -m
sim.formal`` (``make formal``) runs them all; ``docs/formal.md`` says what
each one shows.
"""
