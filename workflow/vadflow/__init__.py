"""vadflow: a Snakemake workflow for video anomaly detection on surveillance video."""

__version__ = "0.1.0"
