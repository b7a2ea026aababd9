"""A trivial three-task Prefect flow: what any Prefect run costs in a cold process, for comparison."""

from prefect import flow, task


@task
def extraire() -> list[int]:
    """Stand-in for extraction."""
    return [1, 2, 3]


@task
def transformer(valeurs: list[int]) -> int:
    """Stand-in for the transformation."""
    return sum(valeurs)


@task
def publier(total: int) -> int:
    """Stand-in for publication."""
    return total


@flow(name="flux_trivial")
def flux_trivial() -> int:
    """Three chained tasks doing nothing worth measuring."""
    return publier(transformer(extraire()))


if __name__ == "__main__":
    flux_trivial()
