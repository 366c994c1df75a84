"""Write one benchmark's section of ``scripts/BENCHMARKS.md`` (the benchmarks share it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_section"]

BENCHMARKS = Path(__file__).resolve().parent / "BENCHMARKS.md"


def write_section(heading: str, text: str, path: Path = BENCHMARKS) -> None:
    """Replace the section under ``heading`` (a ``## ...`` line) with ``text``, or append it.

    The section runs to the next ``## `` heading, so the other benchmarks' sections stay.
    """
    doc = path.read_text(encoding="utf-8")
    body = f"{heading}\n\n{text}\n"
    if heading in doc:
        start = doc.index(heading)
        nxt = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + body + (f"\n{doc[nxt + 1:]}" if nxt >= 0 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + body
    path.write_text(doc, encoding="utf-8")
