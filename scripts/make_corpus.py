"""Regenerate model_zoo/data/corpus.txt: a character corpus made from the project's own documentation.

The text is README.md followed by the docstrings (module, class, function) of the project's Python packages,
in file order, read with `ast` (nothing is imported). Non-ASCII characters are dropped so that one byte is
one character. The result is capped at --max-kb kilobytes.

    python scripts/make_corpus.py [--max-kb 64]
"""
import argparse
import ast
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("autocompyute", "interop", "model_zoo")


def docstrings(path):
    """The docstrings of a Python file, outermost first, in source order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef,
                                                                      ast.AsyncFunctionDef))]
    nodes.sort(key=lambda n: getattr(n, "lineno", 0))
    for node in nodes:
        doc = ast.get_docstring(node)
        if doc and len(doc) > 20:
            yield doc


def build_corpus(max_bytes):
    parts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts.extend(docstrings(path))
    text = "\n\n".join(p.strip() for p in parts) + "\n"
    text = text.encode("ascii", "ignore").decode("ascii")
    if len(text) > max_bytes:
        text = text[:text.rfind("\n\n", 0, max_bytes)] + "\n"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-kb", type=int, default=64)
    args = parser.parse_args(argv)
    text = build_corpus(args.max_kb * 1024)
    out = ROOT / "model_zoo" / "data" / "corpus.txt"
    out.write_text(text, encoding="ascii")
    print(f"wrote {os.path.relpath(out, ROOT)}: {len(text)} characters, {len(set(text))} distinct")


if __name__ == "__main__":
    main()
