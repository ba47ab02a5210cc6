"""RTL generators (Amaranth HDL) for zeroskip's sparse engines."""
