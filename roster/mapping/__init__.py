"""Column mapping: suggest where each CSV column of a contacts export should go."""

from .column_map import to_column_map
from .models import ExistingProperty, Suggestion
from .offline import suggest_offline

__all__ = ["ExistingProperty", "Suggestion", "suggest_offline", "to_column_map"]
