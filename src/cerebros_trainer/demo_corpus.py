"""A built-in corpus of real English prose: the Python standard library's docstrings.

Every Python installation carries these texts, so the demo trains on real
language without downloading anything. Each module, class and function
docstring becomes one `{"text": ...}` line of a JSONL file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

# Modules with long, prose-heavy docstrings that import without side effects
# on every platform CPython supports.
STDLIB_MODULES = (
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "cmd",
    "codecs",
    "collections",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "doctest",
    "email",
    "email.message",
    "enum",
    "fractions",
    "ftplib",
    "functools",
    "getopt",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "http.cookiejar",
    "http.server",
    "imaplib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "locale",
    "logging",
    "logging.handlers",
    "mailbox",
    "mimetypes",
    "multiprocessing",
    "netrc",
    "numbers",
    "operator",
    "optparse",
    "os",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "platform",
    "plistlib",
    "poplib",
    "pprint",
    "profile",
    "pstats",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "tokenize",
    "trace",
    "traceback",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "weakref",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "zipfile",
    "zoneinfo",
)

MIN_DOCSTRING_CHARS = 80


def iter_docstrings(module_names: tuple[str, ...] = STDLIB_MODULES) -> Iterator[str]:
    """Yield the docstrings of the given modules and their public members."""
    seen: set[str] = set()
    for name in module_names:
        module = _import_quietly(name)
        if module is None:
            continue
        for text in _module_docstrings(module):
            if len(text) >= MIN_DOCSTRING_CHARS and text not in seen:
                seen.add(text)
                yield text


def write_stdlib_corpus(path: Path) -> int:
    """Write the standard library's docstrings to `path` as JSONL.

    Returns the number of documents written. The file is written to a
    temporary name first, so an interrupted run never leaves half a corpus.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    count = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for text in iter_docstrings():
            handle.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            count += 1
    temporary.replace(path)
    return count


def _import_quietly(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ImportError as error:
        logger.debug("Skipped module %s for the demo corpus: %s", name, error)
        return None


def _module_docstrings(module: ModuleType) -> Iterator[str]:
    module_doc = inspect.getdoc(module)
    if module_doc:
        yield module_doc

    for member_name, member in sorted(vars(module).items()):
        if member_name.startswith("_"):
            continue
        if getattr(member, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(member) or inspect.isfunction(member):
            doc = inspect.getdoc(member)
            if doc:
                yield doc
        if inspect.isclass(member):
            for method in vars(member).values():
                doc = inspect.getdoc(method) if inspect.isfunction(method) else None
                if doc:
                    yield doc
