"""Counts the files a process opens for reading under one folder, through a Python audit hook
(which sees every `open`, Python's or a library's, that goes through the interpreter).

As a module: `with count_reads_under(folder) as reads: ...; reads.count`.
As a script: `python bench/read_counter.py run streamlit_app.py ...` runs Streamlit's command
line with the hook on, counting reads under $RNN_BENCH_READS_UNDER and writing the count to
$RNN_BENCH_READS_FILE (JSON) every 0.2 s, so a benchmark can read a served app's count.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT


@dataclass
class ReadCount:
    folder: str
    count: int = 0


_counting: list[ReadCount] = []


def _is_read(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return not any(letter in mode for letter in "wax+")
    return isinstance(flags, int) and not flags & WRITING


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _counting:
        return
    path, mode, flags = args
    if isinstance(path, (str, bytes, os.PathLike)) and _is_read(mode, flags):
        name = os.fsdecode(path)
        for counter in _counting:
            if name.startswith(counter.folder):
                counter.count += 1


sys.addaudithook(_hook)  # a hook cannot be taken away again: it does nothing while nobody counts


@contextlib.contextmanager
def count_reads_under(folder: Path) -> Iterator[ReadCount]:
    counter = ReadCount(str(Path(folder).resolve()))
    _counting.append(counter)
    try:
        yield counter
    finally:
        _counting.remove(counter)


def _report_forever(counter: ReadCount, path: Path) -> None:
    while True:
        path.write_text(json.dumps({"reads": counter.count}))
        time.sleep(0.2)


if __name__ == "__main__":
    from streamlit.web.cli import main

    counter = ReadCount(str(Path(os.environ["RNN_BENCH_READS_UNDER"]).resolve()))
    _counting.append(counter)
    threading.Thread(
        target=_report_forever, args=(counter, Path(os.environ["RNN_BENCH_READS_FILE"])), daemon=True
    ).start()
    sys.argv = ["streamlit", *sys.argv[1:]]
    sys.exit(main())
