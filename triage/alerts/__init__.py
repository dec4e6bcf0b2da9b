"""Product alerts (差评预警) and listing audit (详情页审核).

- `detect`: the statistics — per product (or category) and cause, recent windows against an
  Empirical-Bayes baseline; pure.
- `terms`: the terms that recur across an alert's reviews; pure.
"""
