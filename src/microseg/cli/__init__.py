"""The command-line adapter (typer + rich). Thin: parse arguments, call the library, print."""
