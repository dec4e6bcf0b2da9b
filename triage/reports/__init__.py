"""The weekly negative-review rate report (差评率周报).

- `weeks`    ISO weeks in the configured zone: parsing, bounds, neighbours (pure).
- `weekly`   the figures, aggregated in SQL, as the contract's report object plus extras.
- `store`    publishing into the `reports` table; a published report is served as published.
- `render`   HTML (self-contained, inline SVG charts), CSV (UTF-8 with BOM) and JSON.
- `schedule` the Monday 09:00 job that publishes last week's report.

The `triage report weekly` command is `service.commands.reports`.
"""
