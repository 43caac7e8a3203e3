"""Read the commands, queries and references out of README.md and docs/*.md, for tests/test_readme.py.

The conventions (also stated at the top of tests/test_readme.py):

- a fenced ```sh block is run, one command per line (a line ending in ``\\`` continues on the next);
  a trailing ``# exit N`` says the exit code the command returns, otherwise it must exit 0;
- a fenced ```sql block is run with ``cim query``, one statement at a time;
- a fenced ```python block is run with the project's Python;
- a fenced ```toml block must parse;
- a fenced ```text block (or any other) is shown, not run: synopsis lines with placeholders go there;
- inline code naming a ``cim`` command or a ``make`` target is not run, but its command, options and
  target must exist, and a ``table.column`` reference must name a documented column.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGUAGES = ("sh", "sql", "python", "toml")
_FENCE = re.compile(r"^```(\w*)\s*$")
_EXIT = re.compile(r"#\s*exit\s+(\d+)\b")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


@dataclass(frozen=True)
class Block:
    """One fenced block of a document: its language, first line number (1-based) and text."""

    path: Path
    line: int
    language: str
    text: str


@dataclass(frozen=True)
class Snippet:
    """One runnable piece: a shell command, an SQL statement, a Python block or a TOML block."""

    kind: str
    source: str  # "README.md:12"
    text: str
    expected_exit: int = 0

    @property
    def id(self) -> str:
        first = " ".join(self.text.split())[:70]
        return f"{self.source} {first}"


def documents(root: Path = ROOT) -> list[Path]:
    """README.md, then docs/*.md in name order: the documents whose commands users copy."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file (an unclosed fence runs to the end of the file)."""
    out: list[Block] = []
    language, start, body = None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = _FENCE.match(line)
        if language is None and line.startswith("```"):
            language, start, body = (fence.group(1) if fence else line[3:].strip()), number + 1, []
        elif language is not None and fence and not fence.group(1):
            out.append(Block(path, start, language, "\n".join(body)))
            language = None
        elif language is not None:
            body.append(line)
    if language is not None:
        out.append(Block(path, start, language, "\n".join(body)))
    return out


def prose(path: Path) -> str:
    """The document without its fenced blocks (inline code and tables stay)."""
    kept, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            kept.append(line)
    return "\n".join(kept)


def shell_commands(block: Block) -> list[Snippet]:
    """The commands of a ```sh block, each with the exit code its ``# exit N`` comment promises."""
    out: list[Snippet] = []
    pending: list[str] = []
    first = 0
    for offset, line in enumerate(block.text.splitlines()):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            first = block.line + offset
        pending.append(line)
        if line.rstrip().endswith("\\"):
            continue
        command = "\n".join(pending)
        found = _EXIT.search(command)
        out.append(Snippet("sh", f"{_rel(block.path)}:{first}", command, int(found.group(1)) if found else 0))
        pending = []
    return out


def sql_statements(block: Block) -> list[Snippet]:
    """The statements of a ```sql block, split by DuckDB's own parser (comments and ; handled)."""
    import duckdb

    out, lines = [], block.text.splitlines()
    for statement in (str(s.query).strip() for s in duckdb.extract_statements(block.text)):
        code = next((ln for ln in statement.splitlines() if ln.strip() and not ln.lstrip().startswith("--")), "")
        offset = next((i for i, ln in enumerate(lines) if code and code in ln), 0)
        if statement:
            out.append(Snippet("sql", f"{_rel(block.path)}:{block.line + offset}", statement))
    return out


def snippets(root: Path = ROOT) -> list[Snippet]:
    """Everything runnable in the documents, in document order."""
    out: list[Snippet] = []
    for path in documents(root):
        for block in blocks(path):
            if block.language == "sh":
                out += shell_commands(block)
            elif block.language == "sql":
                out += sql_statements(block)
            elif block.language in ("python", "toml"):
                out.append(Snippet(block.language, f"{_rel(block.path)}:{block.line}", block.text))
    return out


def inline_code(path: Path) -> list[str]:
    """Inline code spans of the document's prose (tables included), in order."""
    return _INLINE.findall(prose(path))


def cli_references(path: Path) -> list[str]:
    """Inline code and ```text / ```sh lines that name a cim command (``cim ...`` or ``.venv/bin/cim ...``)."""
    found = [c for c in inline_code(path) if re.match(r"(\.venv/bin/)?cim \S", c)]
    for block in blocks(path):
        if block.language in ("text", "sh", ""):
            found += [line.strip() for line in block.text.splitlines() if re.match(r"\s*(\.venv/bin/)?cim \S", line)]
    return found


def make_references(path: Path) -> list[str]:
    """Inline code and shell lines that run a make target (``make run``, ``make query Q=...``)."""
    found = [c for c in inline_code(path) if re.match(r"make [a-z]", c)]
    for block in blocks(path):
        if block.language == "sh":
            found += [line.strip() for line in block.text.splitlines() if re.match(r"\s*make [a-z]", line)]
    return found


def cli_words(reference: str) -> list[str]:
    """The words of a command reference, without ``.venv/bin/``, comments or shell quoting."""
    text = reference.split(" #")[0].removeprefix(".venv/bin/")
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote in a synopsis ("SQL" inside [...]) : plain split is enough
        return text.split()


def _rel(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def copy_repository(dest: Path, root: Path = ROOT) -> Path:
    """A copy of the project's files (what a clone holds, uncommitted edits included) with ``.venv`` linked.

    The copy's requirements.lock and pyproject.toml are made older than the venv's install stamp, so
    ``make`` there never reinstalls into the shared environment."""
    import os
    import shutil
    import subprocess
    import sys

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True)
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.split("\0")):
            source = root / name
            if source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:  # not a git checkout (an unpacked release): everything but local state
        shutil.copytree(root, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".venv", ".git", "cim-data", ".prefect", "review", "*_cache", "__pycache__", "out"))
    (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for name in ("requirements.lock", "pyproject.toml"):
        os.utime(dest / name, (0, 0))
    return dest


def user_env(repo: Path) -> dict[str, str]:
    """The environment of a user in the project folder: ``.venv/bin`` first, no store or config chosen."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CIM_", "PREFECT_", "PYTEST_", "MAKE", "MFLAGS")) and k != "VIRTUAL_ENV"}
    env.update(PATH=f"{repo / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200", HOME=str(repo))
    return env
