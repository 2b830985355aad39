"""The import's asset graph, one module per step. Thin: the work is in resources/."""
