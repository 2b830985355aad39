"""The import's asset graph, one module per step. Thin: each step calls roster/importing/steps.py
(through assets/step.py), with the resources/ that configure the database, landing and mapping."""
