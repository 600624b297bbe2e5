"""The two reports (performance baseline, delivery guarantees) built from PromQL and run records."""
