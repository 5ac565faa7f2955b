"""payments' part of ``manage.py seed_demo``: a 500 CNY gift card bound to the demo customer, and
a demo company (corporate account, paying by bank transfer) with the demo customer as member."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.dispatch import receiver

from stores.demo import demo_seeded
from stores.demo_data import CANTEEN, CHAIN, DEMO_USERS
from stores.models import Brand

from .models import CorporateAccount, CorporateMember, GiftCard
from .services import gift_card_issue

DEMO_GIFT_CARD_AMOUNT = Decimal("500.00")
# The canteen brand's card: the part of a canteen meal the subsidy does not pay (split payment).
DEMO_CANTEEN_GIFT_CARD_AMOUNT = Decimal("100.00")


@receiver(demo_seeded, dispatch_uid="payments.demo.gift_card")
def seed_demo_gift_card(sender, count, **kwargs):
    phones = [spec.phone for spec in DEMO_USERS if spec.is_customer]
    customer = get_user_model().objects.filter(phone__in=phones).order_by("phone").first()
    if customer is None:
        return
    for code, amount in ((CHAIN.code, DEMO_GIFT_CARD_AMOUNT), (CANTEEN.code, DEMO_CANTEEN_GIFT_CARD_AMOUNT)):
        brand = Brand.objects.filter(code=code).first()
        if brand is None or GiftCard.objects.filter(brand=brand, owner=customer).exists():
            continue
        gift_card_issue(actor=None, brand=brand, amount=amount, owner=customer, note="demo")
        count("gift cards", 1)


DEMO_COMPANY = {
    "name": "Demo Tech Co.",
    "bank_name": "中国工商银行上海张江支行",
    "bank_account_name": "Demo Tech Co.",
    "bank_account_last4": "8866",
    "contact_phone": "021-55550100",
    "pay_within_hours": 24,
}


@receiver(demo_seeded, dispatch_uid="payments.demo.corporate_account")
def seed_demo_corporate_account(sender, count, **kwargs):
    brand = Brand.objects.filter(code=CHAIN.code).first()
    phones = [spec.phone for spec in DEMO_USERS if spec.is_customer]
    customer = get_user_model().objects.filter(phone__in=phones).order_by("phone").first()
    if brand is None or customer is None:
        return
    account, created = CorporateAccount.objects.get_or_create(
        brand=brand, name=DEMO_COMPANY["name"], defaults={k: v for k, v in DEMO_COMPANY.items() if k != "name"}
    )
    if created:
        count("corporate accounts", 1)
    _, added = CorporateMember.objects.get_or_create(account=account, user=customer,
                                                     defaults={"employee_number": "E0001"})
    if added:
        count("corporate account members", 1)
