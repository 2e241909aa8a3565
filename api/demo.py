"""``onebar demo``: placeholder until the demo sites land (issue 4)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Start the identity service and the demo sites with demo data."""
    raise click.ClickException("the demo is not built yet")
