from ferry.cli.main import run

run()
