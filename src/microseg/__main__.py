"""`python -m microseg ...`: the same program as the `microseg` script (pyproject.toml
[project.scripts]), for environments where the script is not on PATH. Usage lines then
read `python -m microseg` (click names the program after the module it runs as)."""

from microseg.cli.app import main

if __name__ == "__main__":
    main()
