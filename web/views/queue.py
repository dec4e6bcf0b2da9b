"""`/queue`: the agents' case queue. A placeholder until the queue work lands; it already sits
behind the login, so sign-in has somewhere to go."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import login_required

bp = Blueprint("queue", __name__)


@bp.get("/queue")
@login_required
def index():
    return render_template("queue.html")
