"""One module per subcommand, one convention: `HELP`, `add_arguments(parser)` and
`run(args, env, out) -> int`. cli.py only parses and dispatches. Modules here import nothing heavy
at the top (no SDK, PyGithub, nbclient): `grt validate` and `grt plan` must start fast."""
