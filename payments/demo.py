"""payments' part of ``manage.py seed_demo``: a 500 CNY gift card bound to the demo customer."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.dispatch import receiver

from stores.demo import demo_seeded
from stores.demo_data import CHAIN, DEMO_USERS
from stores.models import Brand

from .models import GiftCard
from .services import gift_card_issue

DEMO_GIFT_CARD_AMOUNT = Decimal("500.00")


@receiver(demo_seeded, dispatch_uid="payments.demo.gift_card")
def seed_demo_gift_card(sender, count, **kwargs):
    brand = Brand.objects.filter(code=CHAIN.code).first()
    phones = [spec.phone for spec in DEMO_USERS if spec.is_customer]
    customer = get_user_model().objects.filter(phone__in=phones).order_by("phone").first()
    if brand is None or customer is None:
        return
    if GiftCard.objects.filter(brand=brand, owner=customer).exists():
        return
    gift_card_issue(actor=None, brand=brand, amount=DEMO_GIFT_CARD_AMOUNT, owner=customer, note="demo")
    count("gift cards", 1)
