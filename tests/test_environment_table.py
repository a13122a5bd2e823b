"""docker/README.md's table of environment variables lists exactly the variables the code reads.

The code is parsed, not run: a variable counts as read where its name is a literal in
`env("X", ...)` (or `env_float`, `env_bool`, `required`: the settings' helpers), `os.environ["X"]`,
`os.environ.get("X")`, `os.environ.setdefault("X", ...)` or `os.getenv("X")`.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "docker" / "README.md"
SOURCE_DIRS = ("config", "common", "customers", "products", "invoices", "frontend", "viz")
ENVIRON_METHODS = {"get", "setdefault", "pop"}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.AST) -> bool:
    """`os.environ`, or `environ` imported from os."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id == "environ"


def _read_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return _literal(node.slice)
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    if isinstance(func, ast.Name) and (func.id in {"env", "required", "getenv"} or func.id.startswith("env_")):
        return _literal(node.args[0])
    if isinstance(func, ast.Attribute):
        if func.attr in ENVIRON_METHODS and _is_environ(func.value):
            return _literal(node.args[0])
        if func.attr == "getenv":
            return _literal(node.args[0])
    return None


def variables_read() -> dict[str, set[str]]:
    """Variable name -> the files (relative to the repository) that read it."""
    found: dict[str, set[str]] = {}
    for directory in SOURCE_DIRS:
        for path in sorted((REPO / directory).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                name = _read_name(node)
                if name is not None:
                    found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


def variables_in_table() -> set[str]:
    section = TABLE.read_text().split("\n## Environment variables\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, flags=re.MULTILINE))


def test_the_parser_finds_reads_in_every_form_it_claims():
    sample = ast.parse(
        'env("A"); env_float("B", 1.0); os.environ["C"]; os.environ.get("D"); '
        'os.environ.setdefault("E", "x"); os.getenv("F"); env(f"{name}_FILE"); settings.get("G")'
    )
    names = {name for node in ast.walk(sample) if (name := _read_name(node))}
    assert names == {"A", "B", "C", "D", "E", "F"}


def test_every_variable_the_code_reads_is_in_the_table():
    read = variables_read()
    assert len(read) > 20, "the scan found almost nothing: has the code moved?"
    missing = {name: sorted(files) for name, files in read.items() if name not in variables_in_table()}
    assert not missing, f"read by the code but missing from {TABLE.relative_to(REPO)}: {missing}"


def test_the_table_lists_no_variable_that_nothing_reads():
    stale = sorted(variables_in_table() - set(variables_read()))
    assert not stale, f"listed in {TABLE.relative_to(REPO)} but read nowhere: {stale}"
