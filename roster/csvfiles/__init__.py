"""Reading contact CSV files whatever they are: compressed, in any common encoding, any delimiter."""
from roster.csvfiles.errors import FileRefused
from roster.csvfiles.reader import RowBatch, iter_batches
from roster.csvfiles.sniff import SourceFile, open_source, read_sample

__all__ = ["FileRefused", "RowBatch", "SourceFile", "iter_batches", "open_source", "read_sample"]
