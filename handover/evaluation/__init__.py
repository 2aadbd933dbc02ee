"""Evaluation and retention: the NPS export, the sampled transcript export, the report
and the retention purge. Each works on the `Store` contract, so on every engine, and is
used by the `handover` command (cli_ops.py); the purge also by the daemon.
"""
