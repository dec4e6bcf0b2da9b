"""The shipped review-classifier files, installed as package data (see README.md, the model card).

Nothing here is code: `classifier.model_dir()` finds these files through `importlib.resources`, so
they resolve the same in a checkout, an editable install and an installed wheel.
"""
