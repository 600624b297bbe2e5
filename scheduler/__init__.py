"""Scheduled regression runs: cron jobs that run the suites, baselines, noise-aware verdicts."""
