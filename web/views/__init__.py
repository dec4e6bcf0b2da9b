"""Server-rendered pages, one module per kind of page over the shared helpers in `base`.

Each module owns one blueprint; create_app registers them explicitly.
"""
