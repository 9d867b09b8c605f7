"""`python -m cqrs`: the same command line as the `cqrs` console script."""

from cqrs.cli import main

__all__: list[str] = []

raise SystemExit(main())
