"""The staff pages: the registry, the accounts, the audit log, the import of lists, the rooms' schedules.

Each page is a shell (headings, filters, empty tables, dialogs) whose data the page's script reads
from the guarded API routes; the shell itself names nothing of the registry. What the shell does carry
is the caller's own powers (from `controller.access.POLICY`), so the script offers only the buttons the
API would honour; the API checks every request again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from controller import access
from controller.web.auth import current_user, login_required
from controller.web.security import public

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

_SHELL = "page shell; its data comes only from guarded API routes"
# Staff are the roles that may read the audit log; the same roles manage rooms and accounts.
_STAFF = access.POLICY["audit"]["read"]


def _powers(user: dict[str, Any]) -> dict[str, list[str]]:
    """Return kind -> the actions the user's role may take on it (inside their subtree)."""
    return {
        kind: sorted(action for action, roles in actions.items() if user["role"] in roles)
        for kind, actions in access.POLICY.items()
    }


def staff_page(template: str, **context: Any) -> Any:
    """Render a staff page for the signed-in user, or the friendly refusal a teacher gets."""
    user = current_user()
    if user["role"] not in _STAFF:
        return render_template("admin/forbidden.html", user=user), 403
    return render_template(
        template,
        user=user,
        powers=_powers(user),
        manageable_roles=[role for role in access.ROLES if access.may_manage_role(user, role)],
        **context,
    )


@blueprint.get("/")
@login_required
@public(_SHELL)
def index() -> Any:
    return redirect(url_for("admin.registry_page"))


@blueprint.get("/registry")
@login_required
@public(_SHELL)
def registry_page() -> Any:
    return staff_page("admin/registry.html")


@blueprint.get("/users")
@login_required
@public(_SHELL)
def users_page() -> Any:
    return staff_page("admin/users.html")


@blueprint.get("/audit")
@login_required
@public(_SHELL)
def audit_page() -> Any:
    return staff_page("admin/audit.html")


@blueprint.get("/imports")
@login_required
@public(_SHELL)
def imports_page() -> Any:
    return staff_page("admin/imports.html")


@blueprint.get("/pair")
@login_required
@public(_SHELL)
def pair_page() -> Any:
    """Approve a new panel: the code typed or scanned off its screen (the QR code opens ?code=…)."""
    return staff_page("admin/pair.html")


@blueprint.get("/schedules")
@login_required
@public(_SHELL)
def schedules_page() -> Any:
    """The rooms' screen schedules of a school: upload, download, remove (school IT), read (staff)."""
    return staff_page("admin/schedules.html")
