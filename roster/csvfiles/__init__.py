"""Reading contact CSV files whatever they are: compressed, in any common encoding, any delimiter."""

from roster.csvfiles.errors import FileRefused
from roster.csvfiles.reader import MalformedCsv, RowBatch, iter_batches, sample_values
from roster.csvfiles.sniff import SourceFile, open_source, read_sample

__all__ = ["FileRefused", "MalformedCsv", "RowBatch", "SourceFile", "iter_batches", "open_source", "read_sample", "sample_values"]
