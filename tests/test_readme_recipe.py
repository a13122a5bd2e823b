"""README's by-hand deployment is the recipe at the head of swarm-stack.yml, line for line (the
newcomer suite runs the stack file's copy, so the two must not drift apart)."""

from pathlib import Path

from tests.newcomer.test_by_hand import recipe

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_shows_every_line_of_the_stack_files_recipe() -> None:
    def command(line: str) -> str:
        return line.split("  #")[0].strip()

    shown = {command(line) for line in README.read_text().splitlines()}
    missing = [line for line in recipe() if command(line) not in shown]
    assert not missing, missing
