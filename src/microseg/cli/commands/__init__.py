"""One module per `microseg` command. Each defines its command as a plain function;
`microseg.cli.app` lists them and registers them on the typer app, so importing a module
here changes nothing global."""
