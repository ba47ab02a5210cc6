"""zeroskip's end-to-end flow and its ``zeroskip`` command.

The engines (``hw/``), the golden model (``sw_model/``), the testbenches
(``sim/``) and the synthesis flow (``synth/``) are libraries; this package
strings them together for a user: import a network, compress it, generate
the design, simulate it, synthesize it, report (``zeroskip --help``).
"""
