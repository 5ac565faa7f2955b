"""The customer's cart, kept in the session: one per store and channel (web, kiosk).

The cart holds only what the customer chose: dish ids, option ids, quantities, and the table it
is bound to (dine-in by table QR). It never holds a price. Names, prices and availability are
recomputed from the store's menu (``stores.selectors.store_menu``) every time the cart is shown
or changed, and ``ordering.services.order_submit`` prices the order again from the database.

Every change is checked against the menu first and changes nothing when refused: unknown dish or
another brand's dish, an option the dish does not offer, a required choice missing, a quantity out
of 1..99, more portions than the store has left, a store that is not taking orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from config.money import money
from stores.selectors import MenuDish, MenuOption, MenuOptionGroup, StoreMenu

from .services import MAX_LINES, MAX_PORTIONS, MAX_QUANTITY, LineRequest

SESSION_KEY = "ordering.carts"


class CartError(Exception):
    """A change to the cart that was refused; ``message`` says why, for the customer."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def menu_dishes(menu: StoreMenu) -> dict[int, MenuDish]:
    """The menu's dishes by id."""
    return {dish.id: dish for category in menu.categories for dish in category.dishes}


def line_key(dish_id: int, option_ids: Iterable[int]) -> str:
    """The identity of a cart line: the dish and its (sorted) options, e.g. ``"12:3.7"``."""
    return f"{dish_id}:{'.'.join(str(o) for o in sorted(option_ids))}"


def _option_groups_of(dish: MenuDish) -> dict[int, tuple[MenuOptionGroup, MenuOption]]:
    return {option.id: (group, option) for group in dish.option_groups for option in group.options}


def check_options(dish: MenuDish, option_ids: Iterable[int]) -> list[MenuOption]:
    """The chosen options of ``dish`` in menu order; raises ``CartError`` when the choice is not allowed."""
    option_ids = list(option_ids)
    if len(set(option_ids)) != len(option_ids):
        raise CartError(_("An option was chosen twice for %(dish)s.") % {"dish": dish.name})
    offered = _option_groups_of(dish)
    for option_id in option_ids:
        if option_id not in offered:
            raise CartError(_("That option is not offered with %(dish)s.") % {"dish": dish.name})
    chosen_ids = set(option_ids)
    chosen: list[MenuOption] = []
    for group in dish.option_groups:
        in_group = [option for option in group.options if option.id in chosen_ids]
        if len(in_group) < group.min_choices:
            raise CartError(_("Choose %(group)s for %(dish)s.") % {"group": group.name, "dish": dish.name})
        if len(in_group) > group.max_choices:
            raise CartError(
                _("Choose at most %(n)d of %(group)s for %(dish)s.")
                % {"n": group.max_choices, "group": group.name, "dish": dish.name}
            )
        chosen.extend(in_group)
    return chosen


def _check_quantity(quantity) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise CartError(_("Choose a quantity between 1 and %(max)d.") % {"max": MAX_QUANTITY})
    return quantity


@dataclass(frozen=True)
class CartLine:
    """One line as shown: priced from the menu now. ``problem`` says why it cannot be ordered."""

    key: str
    dish_id: int
    quantity: int
    dish: MenuDish | None = None
    options: tuple[MenuOption, ...] = ()
    unit_price: Decimal | None = None
    problem: str = ""

    @property
    def name(self) -> str:
        return self.dish.name if self.dish is not None else _("A dish no longer on the menu")

    @property
    def line_total(self) -> Decimal | None:
        return None if self.unit_price is None else money(self.unit_price * self.quantity)

    @property
    def can_increase(self) -> bool:
        return not self.problem and self.quantity < MAX_QUANTITY


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine] = field(default_factory=list)
    table: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def problems(self) -> list[CartLine]:
        return [line for line in self.lines if line.problem]

    @property
    def portions(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        """The lines that can be ordered, at today's menu prices."""
        return money(sum((line.line_total for line in self.lines if not line.problem), Decimal("0")))

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and not self.problems


class Cart:
    """One store's cart in ``session``; ``kiosk=True`` keeps the kiosk's cart apart from the web one.

    Call ``save()`` after a change (it marks the session modified).
    """

    def __init__(self, session, store_code: str, *, kiosk: bool = False):
        self.session = session
        self.key = f"{'kiosk' if kiosk else 'web'}:{store_code}"
        self.kiosk = kiosk
        data = session.get(SESSION_KEY, {}).get(self.key) or {}
        self.table: str = str(data.get("table") or "") if not kiosk else ""
        self.lines: list[dict] = [
            line for line in data.get("lines", [])
            if isinstance(line, dict) and isinstance(line.get("dish"), int) and isinstance(line.get("qty"), int)
        ]
        self._flash: dict | None = data.get("flash")

    # --- reading ---

    def __len__(self) -> int:
        return len(self.lines)

    def _key_of(self, line: dict) -> str:
        return line_key(line["dish"], line.get("options", []))

    def _portions_of(self, dish_id: int, *, except_key: str = "") -> int:
        return sum(line["qty"] for line in self.lines if line["dish"] == dish_id and self._key_of(line) != except_key)

    def summary(self, menu: StoreMenu) -> CartSummary:
        """The lines priced from ``menu``, each with the reason it cannot be ordered, if any."""
        dishes = menu_dishes(menu)
        wanted: dict[int, int] = {}
        for line in self.lines:
            wanted[line["dish"]] = wanted.get(line["dish"], 0) + line["qty"]
        lines = []
        for line in self.lines:
            key, quantity = self._key_of(line), line["qty"]
            dish = dishes.get(line["dish"])
            if dish is None:
                lines.append(CartLine(key, line["dish"], quantity, problem=_("No longer on the menu.")))
                continue
            try:
                options = check_options(dish, line.get("options", []))
            except CartError:
                lines.append(CartLine(key, dish.id, quantity, dish, problem=_("Its options changed: add it again.")))
                continue
            unit_price = money(dish.price + sum((o.price_delta for o in options), Decimal("0")))
            problem = ""
            if not dish.available:
                problem = _("Sold out.")
            elif dish.stock is not None and wanted[dish.id] > dish.stock:
                problem = _("Only %(n)d left.") % {"n": dish.stock}
            lines.append(CartLine(key, dish.id, quantity, dish, tuple(options), unit_price, problem))
        return CartSummary(lines=lines, table=self.table)

    def line_requests(self) -> list[LineRequest]:
        return [
            LineRequest(dish_id=line["dish"], quantity=line["qty"], option_ids=tuple(line.get("options", [])))
            for line in self.lines
        ]

    # --- changing (each checks everything first, then changes) ---

    def _check_stock(self, dish: MenuDish, portions: int) -> None:
        if not dish.available:
            raise CartError(_("Sorry, %(dish)s is sold out.") % {"dish": dish.name})
        if dish.stock is not None and portions > dish.stock:
            raise CartError(
                _("Only %(n)d of %(dish)s left, including those already in your cart.")
                % {"n": dish.stock, "dish": dish.name}
            )

    def add(self, menu: StoreMenu, *, dish_id: int, option_ids: Iterable[int], quantity: int, is_open: bool) -> str:
        """Add ``quantity`` of a dish with options (merged into the same line if already there).

        Returns the line's key; raises ``CartError`` and changes nothing when refused.
        """
        if not is_open:
            raise CartError(_("This store is not taking orders right now."))
        quantity = _check_quantity(quantity)
        dish = menu_dishes(menu).get(dish_id)
        if dish is None:
            raise CartError(_("That dish is not on this store's menu."))
        options = check_options(dish, option_ids)
        key = line_key(dish.id, [o.id for o in options])
        existing = next((line for line in self.lines if self._key_of(line) == key), None)
        new_quantity = quantity + (existing["qty"] if existing else 0)
        if new_quantity > MAX_QUANTITY:
            raise CartError(
                _("You can order at most %(max)d of one dish with the same options.") % {"max": MAX_QUANTITY}
            )
        if existing is None and len(self.lines) >= MAX_LINES:
            raise CartError(_("A cart can hold at most %(n)d different lines.") % {"n": MAX_LINES})
        if sum(line["qty"] for line in self.lines) + quantity > MAX_PORTIONS:
            raise CartError(_("An order can have at most %(max)d portions.") % {"max": MAX_PORTIONS})
        self._check_stock(dish, self._portions_of(dish.id) + quantity)
        if existing is not None:
            existing["qty"] = new_quantity
        else:
            self.lines.append({"dish": dish.id, "options": [o.id for o in options], "qty": quantity})
        return key

    def _find(self, key: str) -> dict:
        line = next((line for line in self.lines if self._key_of(line) == key), None)
        if line is None:
            raise CartError(_("That line is no longer in your cart."))
        return line

    def set_quantity(self, menu: StoreMenu, *, key: str, quantity: int, is_open: bool) -> None:
        """Change a line's quantity (1..99). More portions are checked against the menu and stock;
        fewer are always allowed. Raises ``CartError`` and changes nothing when refused."""
        line = self._find(key)
        quantity = _check_quantity(quantity)
        if quantity > line["qty"]:
            if not is_open:
                raise CartError(_("This store is not taking orders right now."))
            dish = menu_dishes(menu).get(line["dish"])
            if dish is None:
                raise CartError(_("That dish is not on this store's menu."))
            check_options(dish, line.get("options", []))
            total = sum(other["qty"] for other in self.lines if other is not line) + quantity
            if total > MAX_PORTIONS:
                raise CartError(_("An order can have at most %(max)d portions.") % {"max": MAX_PORTIONS})
            self._check_stock(dish, self._portions_of(dish.id, except_key=key) + quantity)
        line["qty"] = quantity

    def remove(self, key: str) -> None:
        line = self._find(key)
        self.lines.remove(line)

    def bind_table(self, table_code: str) -> None:
        self.table = table_code

    def clear(self) -> None:
        self.lines = []

    # --- a one-shot message for the next page (actions without JavaScript redirect) ---

    def flash(self, text: str, *, error: bool = False) -> None:
        self._flash = {"text": str(text), "error": error}

    def pop_flash(self) -> dict | None:
        flash, self._flash = self._flash, None
        if flash is not None:
            self.save()
        return flash

    def save(self) -> None:
        carts = dict(self.session.get(SESSION_KEY, {}))
        if self.lines or self.table or self._flash:
            data: dict = {"lines": self.lines, "table": self.table}
            if self._flash:
                data["flash"] = self._flash
            carts[self.key] = data
        else:
            carts.pop(self.key, None)
        self.session[SESSION_KEY] = carts
        self.session.modified = True
