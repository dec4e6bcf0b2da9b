"""Command-line adapters, one module per command family: parse nothing (`service.cli` does),
call the domain in `triage`, print its answer and return the exit status."""
