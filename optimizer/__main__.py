"""`python -m optimizer` runs the command-line interface."""

from optimizer.cli import main

if __name__ == "__main__":
    main()
