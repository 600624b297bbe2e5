"""Chaos: bounded, verified faults on targets, and the delivery-guarantee suite."""
