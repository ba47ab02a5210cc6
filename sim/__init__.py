"""Testbenches: cocotb 2.x benches under Verilator and the runner that builds them."""
