"""`/`: what the product does and a way in; signed-in agents go straight to their queue."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for

bp = Blueprint("landing", __name__)


@bp.get("/")
def index():
    if g.agent is not None:
        return redirect(url_for("queue.index"))
    return render_template("landing.html")
