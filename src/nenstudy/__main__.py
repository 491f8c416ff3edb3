"""Entry point for ``python -m nenstudy``: the same program as the ``nenstudy`` command."""

from nenstudy.cli import main

if __name__ == "__main__":
    main()
