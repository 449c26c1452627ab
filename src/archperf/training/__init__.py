"""Training: Bi-Arch2Perf, the semi-supervised adversarial trainer."""
