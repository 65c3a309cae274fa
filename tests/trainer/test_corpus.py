"""Tests for reading corpora from disk, HTTP and S3 into byte tokens."""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import boto3
import numpy as np
import pytest
from moto import mock_aws

from cerebros_trainer.corpus import CorpusData, read_corpus
from cerebros_trainer.corpus.tokens import TokenWriter
from cerebros_trainer.errors import CorpusError


def jsonl(*texts: str) -> str:
    return "".join(json.dumps({"text": text}) + "\n" for text in texts)


def read(path: Path | str, tmp_path: Path, **options: object) -> CorpusData:
    return read_corpus(str(path), cache_dir=tmp_path / "cache", **options)  # type: ignore[arg-type]


def decoded(data: CorpusData) -> str:
    return bytes(data.tokens).decode("utf-8")


def test_jsonl_documents_joined_by_newline(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(jsonl("first line\nwith two", "second", "héllo ✓"))

    data = read(path, tmp_path)

    assert data.tokens.dtype == np.uint8
    assert data.tokens.ndim == 1
    assert decoded(data) == "first line\nwith two\nsecond\nhéllo ✓"
    assert data.report.documents == 3
    assert data.report.bad_lines == 0
    assert data.report.files == ["corpus.jsonl"]
    assert data.report.bytes == len("first line\nwith two\nsecond\nhéllo ✓".encode())


def test_jsonl_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    body = '{"text": "a"}\r\n\r\n  \n{"text": "b"}\r\n\n'
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())

    data = read(path, tmp_path)

    assert decoded(data) == "a\nb"
    assert data.report.documents == 2
    assert data.report.bad_lines == 0


def test_jsonl_bad_line_kinds_named(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        b'{"text": "good one"}',
        b'{"text": "unterminated',
        b'{"text": "bad \xff byte"}',
        b'{"title": "no text"}',
        b'{"text": 42}',
        b'["text"]',
        b'{"text": "\\ud800"}',
        b'{"text": "good two"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")

    data = read(path, tmp_path, max_bad_line_share=1.0)

    assert decoded(data) == "good one\ngood two"
    assert data.report.bad_lines == 6
    assert data.report.bad_line_samples == [
        "mixed.jsonl:2: invalid JSON",
        "mixed.jsonl:3: invalid UTF-8",
        "mixed.jsonl:4: missing 'text' field",
        "mixed.jsonl:5: 'text' is a number, expected a string",
        "mixed.jsonl:6: expected a JSON object, got an array",
        "mixed.jsonl:7: 'text' contains an unpaired surrogate escape",
    ]


def test_bad_lines_logged_then_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "noisy.jsonl"
    path.write_text(jsonl("ok") + "not json\n" * 8)

    with caplog.at_level(logging.WARNING, logger="cerebros_trainer.corpus"):
        read(path, tmp_path, max_bad_line_share=1.0)

    messages = [record.getMessage() for record in caplog.records]
    single = [m for m in messages if m.startswith("skipped bad corpus line")]
    assert len(single) == 5
    assert single[0] == "skipped bad corpus line noisy.jsonl:2: invalid JSON"
    assert any("skipped 3 more bad corpus lines" in m for m in messages)


def test_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(jsonl("one", "two") + '{"text": "thr')

    data = read(path, tmp_path, max_bad_line_share=0.5)

    assert decoded(data) == "one\ntwo"
    assert data.report.bad_line_samples == [
        "cut.jsonl:3: cut-off last line (invalid JSON and no newline at the end)"
    ]


def test_last_line_without_newline_kept(tmp_path: Path) -> None:
    path = tmp_path / "tail.jsonl"
    path.write_text(jsonl("one") + '{"text": "two"}')

    data = read(path, tmp_path)

    assert decoded(data) == "one\ntwo"
    assert data.report.bad_lines == 0


def test_bad_line_share_exceeded(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(jsonl(*[f"doc {i}" for i in range(9)]) + "{oops\n")

    with pytest.raises(CorpusError) as caught:
        read(path, tmp_path, max_bad_line_share=0.05)

    message = str(caught.value)
    assert "1 bad lines of 10 (10.0%)" in message
    assert "max_bad_line_share 5.0%" in message
    assert "bad.jsonl:10: invalid JSON" in message
    assert "raise the worker's max_bad_line_share" in message


def test_bad_line_share_at_limit_accepted(tmp_path: Path) -> None:
    path = tmp_path / "edge.jsonl"
    path.write_text(jsonl(*[f"doc {i}" for i in range(9)]) + "{oops\n")

    data = read(path, tmp_path, max_bad_line_share=0.1)

    assert data.report.bad_lines == 1
    assert data.report.documents == 9


def test_empty_corpus_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text('\n{"text": ""}\n\n')

    with pytest.raises(CorpusError) as caught:
        read(path, tmp_path)

    assert "contains no usable text" in str(caught.value)
    assert str(path) in str(caught.value)


def test_only_bad_lines_named_in_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_text("junk\nmore junk\n")

    with pytest.raises(CorpusError) as caught:
        read(path, tmp_path, max_bad_line_share=1.0)

    assert "junk.jsonl:1: invalid JSON; junk.jsonl:2: invalid JSON" in str(caught.value)


def test_gzip_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl("zipped", "text").encode()))

    data = read(path, tmp_path)

    assert decoded(data) == "zipped\ntext"


def test_truncated_gzip_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*["x" * 50] * 200).encode())[:-20])

    with pytest.raises(CorpusError) as caught:
        read(path, tmp_path)

    assert "reading corpus file cut.jsonl.gz failed" in str(caught.value)


def test_text_file_keeps_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "plays.txt"
    path.write_bytes(b"\xef\xbb\xbfACT I\r\n\r\nEnter \xff ghost\r\nExit\r\n")

    data = read(path, tmp_path, max_bad_line_share=0.5)

    assert decoded(data) == "ACT I\n\nExit\n"
    assert data.report.bad_line_samples == ["plays.txt:3: invalid UTF-8"]


def test_csv_directory(tmp_path: Path) -> None:
    corpus = tmp_path / "chunks"
    corpus.mkdir()
    (corpus / "part-1.csv").write_bytes(
        b'\xef\xbb\xbfid,text\r\n1,"multi\r\nline"\r\n2,plain\r\n\r\n3,\r\n'
    )
    (corpus / "part-2.csv").write_text('text,id\n"quoted, comma",4\n')
    (corpus / "_SUCCESS").write_text("")

    data = read(corpus, tmp_path)

    assert decoded(data) == "multi\r\nline\nplain\nquoted, comma"
    assert data.report.files == ["part-1.csv", "part-2.csv"]
    assert data.report.documents == 3
    assert data.report.empty_documents == 1


def test_csv_bad_rows_named(tmp_path: Path) -> None:
    corpus = tmp_path / "chunks"
    corpus.mkdir()
    (corpus / "part-1.csv").write_bytes(b"id,text\n1,good\n2\n3,bad \xff\n4,fine\n")

    data = read(corpus, tmp_path, max_bad_line_share=1.0)

    assert decoded(data) == "good\nfine"
    assert data.report.bad_line_samples == [
        "part-1.csv:3: row has 1 fields, expected a 'text' field",
        "part-1.csv:4: invalid UTF-8",
    ]


def test_csv_without_text_column(tmp_path: Path) -> None:
    corpus = tmp_path / "chunks"
    corpus.mkdir()
    (corpus / "part-1.csv").write_text("id,body\n1,hello\n")

    with pytest.raises(CorpusError) as caught:
        read(corpus, tmp_path)

    assert "part-1.csv has no 'text' column (columns: id, body)" in str(caught.value)


def test_directory_mixes_jsonl_and_csv(tmp_path: Path) -> None:
    corpus = tmp_path / "mixed"
    (corpus / "nested").mkdir(parents=True)
    (corpus / "a.jsonl").write_text(jsonl("from jsonl"))
    (corpus / "nested" / "b.csv").write_text("text\nfrom csv\n")

    data = read(corpus, tmp_path)

    assert decoded(data) == "from jsonl\nfrom csv"
    assert data.report.files == ["a.jsonl", "nested/b.csv"]


def test_empty_directory_rejected(tmp_path: Path) -> None:
    corpus = tmp_path / "nothing"
    corpus.mkdir()
    (corpus / "notes.md").write_text("hello")

    with pytest.raises(CorpusError) as caught:
        read(corpus, tmp_path)

    assert "contains no .jsonl, .ndjson, .txt or .csv files" in str(caught.value)


def test_missing_path_explains_shared_disk(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jsonl"

    with pytest.raises(CorpusError) as caught:
        read(missing, tmp_path)

    message = str(caught.value)
    assert f"corpus path {missing} does not exist on this worker" in message
    assert "filesystem shared with the server" in message
    assert "must be a URL" in message


def test_file_url(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(jsonl("via url"))

    data = read(path.as_uri(), tmp_path)

    assert decoded(data) == "via url"


def test_relative_path_rejected(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as caught:
        read("data/corpus.jsonl", tmp_path)

    assert "'data/corpus.jsonl' is relative" in str(caught.value)


def test_path_outside_allowed_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "corpora"
    allowed.mkdir()
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(jsonl("secret"))
    (allowed / "ok.jsonl").write_text(jsonl("fine"))

    with pytest.raises(CorpusError) as caught:
        read(outside, tmp_path, allowed_roots=[allowed])
    inside = read(allowed / "ok.jsonl", tmp_path, allowed_roots=[allowed])

    assert "is outside the allowed corpus roots" in str(caught.value)
    assert str(allowed) in str(caught.value)
    assert decoded(inside) == "fine"


def test_symlink_escaping_root_rejected(tmp_path: Path) -> None:
    allowed = tmp_path / "corpora"
    allowed.mkdir()
    target = tmp_path / "private.jsonl"
    target.write_text(jsonl("secret"))
    (allowed / "link.jsonl").symlink_to(target)

    with pytest.raises(CorpusError) as caught:
        read(allowed / "link.jsonl", tmp_path, allowed_roots=[allowed])

    assert "outside the allowed corpus roots" in str(caught.value)


@pytest.mark.parametrize("location", ["ftp://host/c.jsonl", "gs://bucket/c.jsonl"])
def test_unsupported_scheme(tmp_path: Path, location: str) -> None:
    with pytest.raises(CorpusError) as caught:
        read(location, tmp_path)

    assert "unsupported scheme" in str(caught.value)
    assert "file://, s3://, http:// or https://" in str(caught.value)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "corpus.parquet"
    path.write_bytes(b"PAR1")

    with pytest.raises(CorpusError) as caught:
        read(path, tmp_path)

    assert "has an unsupported format" in str(caught.value)


class _CorpusHandler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_corpus() -> Iterator[str]:
    _CorpusHandler.files = {
        "/corpus.jsonl": jsonl("over", "http").encode(),
        "/corpus.jsonl.gz": gzip.compress(jsonl("gzipped").encode()),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CorpusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_source(tmp_path: Path, http_corpus: str) -> None:
    plain = read(f"{http_corpus}/corpus.jsonl", tmp_path)
    zipped = read(f"{http_corpus}/corpus.jsonl.gz?version=2", tmp_path)

    assert decoded(plain) == "over\nhttp"
    assert plain.report.files == ["corpus.jsonl"]
    assert decoded(zipped) == "gzipped"


def test_http_missing_file(tmp_path: Path, http_corpus: str) -> None:
    with pytest.raises(CorpusError) as caught:
        read(f"{http_corpus}/absent.jsonl", tmp_path)

    assert "HTTP 404, expected 200" in str(caught.value)


@pytest.mark.usefixtures("fake_aws")
def test_s3_object_and_prefix(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="corpora")
        client.put_object(Bucket="corpora", Key="one.jsonl", Body=jsonl("s3 file"))
        client.put_object(Bucket="corpora", Key="dir/p-1.csv", Body="text\nrow one\n")
        client.put_object(Bucket="corpora", Key="dir/p-2.csv", Body="text\nrow two\n")

        single = read("s3://corpora/one.jsonl", tmp_path, s3_client=client)
        prefix = read("s3://corpora/dir/", tmp_path, s3_client=client)
        bare = read("s3://corpora/dir", tmp_path)

    assert decoded(single) == "s3 file"
    assert decoded(prefix) == "row one\nrow two"
    assert prefix.report.files == ["p-1.csv", "p-2.csv"]
    assert decoded(bare) == "row one\nrow two"


@pytest.mark.usefixtures("fake_aws")
def test_s3_missing_object(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="corpora")

        with pytest.raises(CorpusError) as caught:
            read("s3://corpora/absent.jsonl", tmp_path, s3_client=client)

    assert "corpus object s3://corpora/absent.jsonl does not exist" in str(caught.value)


def test_token_writer_spills_to_memmap(tmp_path: Path) -> None:
    writer = TokenWriter(tmp_path, spill_threshold=8)
    writer.write(b"hello ")
    writer.write(b"world, spilled")

    tokens = writer.finish()

    assert isinstance(tokens, np.memmap)
    assert bytes(tokens) == b"hello world, spilled"
    assert list(tmp_path.iterdir()) == []


def test_fast_path_matches_line_reader(tmp_path: Path) -> None:
    texts = [f'line {i} with "quotes" and \\ slashes ✓' for i in range(2000)]
    clean = tmp_path / "clean.jsonl"
    clean.write_text(jsonl(*texts))
    noisy = tmp_path / "noisy.jsonl"
    noisy.write_text(jsonl(*texts[:1000]) + "\n" + jsonl(*texts[1000:]))

    assert decoded(read(clean, tmp_path)) == "\n".join(texts)
    assert decoded(read(noisy, tmp_path)) == "\n".join(texts)
