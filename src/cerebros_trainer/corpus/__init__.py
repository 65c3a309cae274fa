"""Corpus reading: locations, file formats and the byte-token array.

`read_corpus` turns a dataset's corpus path or URL into a `CorpusData`
whose `tokens` are the UTF-8 bytes of its documents (a vocabulary of 256).
"""

from cerebros_trainer.corpus.reader import DEFAULT_MAX_BAD_LINE_SHARE, read_corpus
from cerebros_trainer.corpus.report import CorpusData, CorpusReport
from cerebros_trainer.corpus.tokens import VOCABULARY_SIZE

__all__ = [
    "DEFAULT_MAX_BAD_LINE_SHARE",
    "VOCABULARY_SIZE",
    "CorpusData",
    "CorpusReport",
    "read_corpus",
]
