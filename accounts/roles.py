"""What each staff role may do, as Django permission names ("app_label.codename").

Named as strings so that accounts imports no other app. Which rows a permission reaches
(the brand for HQ, the assigned stores for store staff) is decided by the owning app's
selectors; this map only says which kinds of rows and actions.
"""

from .models import Role


def _crud(model: str, *actions: str) -> set[str]:
    app, name = model.split(".")
    return {f"{app}.{action}_{name}" for action in actions}


_MENU = ["stores.menucategory", "stores.dish", "stores.optiongroup", "stores.option"]

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.HQ_MANAGER: frozenset(
        _crud("stores.brand", "view", "change")
        | _crud("stores.store", "view", "add", "change")
        | _crud("stores.openinghours", "view", "add", "change", "delete")
        | set().union(*(_crud(m, "view", "add", "change", "delete") for m in _MENU))
        | _crud("stores.storedishoverride", "view", "add", "change", "delete")
        | {"stores.set_store_price"}
        | _crud("stores.staffassignment", "view")
        | _crud("stores.tag", "view")
        | _crud("stores.allergen", "view")
        | _crud("audit.auditevent", "view")
        | _crud("stores.diningtable", "view", "add", "change", "delete")
        | _crud("ordering.order", "view")
        | _crud("payments.payment", "view")
        | _crud("payments.giftcard", "view", "add", "change")
        | _crud("refunds.refundrequest", "view") | {"refunds.review_refundrequest"}
        | _crud("refunds.refundpolicy", "view", "change")
        | _crud("audit.securityreport", "view")
        | {"accounts.unfreeze_user"}
        | _crud("canteen.organisation", "view", "add", "change")
        | _crud("canteen.member", "view", "add", "change")
        | _crud("canteen.subsidyentry", "view")
        | _crud("canteen.topupbatch", "view")
    ),
    Role.STORE_MANAGER: frozenset(
        _crud("stores.store", "view", "change")
        | _crud("stores.openinghours", "view", "add", "change", "delete")
        | set().union(*(_crud(m, "view") for m in _MENU))
        | _crud("stores.storedishoverride", "view", "add", "change")
        | {"stores.set_store_price"}
        | _crud("stores.diningtable", "view", "add", "change", "delete")
        | _crud("ordering.order", "view")
        | _crud("payments.payment", "view")
        | _crud("payments.giftcard", "view")
        | _crud("refunds.refundrequest", "view") | {"refunds.review_refundrequest"}
    ),
    Role.KITCHEN_STAFF: frozenset(
        _crud("stores.store", "view")
        | _crud("stores.dish", "view")
        | _crud("stores.storedishoverride", "view", "change")
        | _crud("stores.diningtable", "view")
        | _crud("ordering.order", "view")
    ),
    # Top-ups and batches are made on the canteen staff pages (canteen.urls_staff), through the
    # services; the admin only shows the organisations they are named on, their members and ledgers.
    Role.CANTEEN_STAFF: frozenset(
        _crud("canteen.organisation", "view")
        | _crud("canteen.member", "view")
        | _crud("canteen.subsidyentry", "view")
        | _crud("canteen.topupbatch", "view")
    ),
    Role.CUSTOMER: frozenset(),
}


def permissions_for_role(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
