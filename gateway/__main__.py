"""python -m gateway: the same as the `gateway` command."""

from gateway.cli import main

if __name__ == "__main__":  # the pipeline process re-imports this module under another name
    main()
