"""placeholder."""
from dockyard.lint.model import rule
from collections.abc import Iterator
from dockyard.lint.model import Hit
from dockyard.lint.facts import Facts

@rule("DY0000", "error", "the Dockerfile does not parse", "fix the syntax error at this line", "dockyard")
def dy0000(facts: Facts) -> Iterator[Hit]:
    return iter(())
