from service.cli import main  # the one upward import in triage/: `python -m triage` is the `triage` command

raise SystemExit(main())
