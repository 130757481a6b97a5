"""One module per subcommand: `add_arguments(parser)` and `run(args, env, out) -> exit code`.

Module tops import only cheap standard-library modules; what a command needs is imported inside
its `run`, so `grt --help` and the light commands stay fast.
"""
