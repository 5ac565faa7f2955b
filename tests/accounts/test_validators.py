import pytest
from django.utils import timezone

from accounts import admin as accounts_admin
from accounts import models as accounts_models
from accounts.models import SmsCode, User
from accounts.validators import mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13800000001", "138****0001"), ("", ""), ("1", "*"), ("12345", "***45"), ("+8613800000001", "************01")],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_every_place_that_shows_a_phone_masks_it_the_same_way(monkeypatch):
    calls = []

    def spy(phone):
        calls.append(phone)
        return "masked"

    monkeypatch.setattr(accounts_models, "mask_phone", spy)
    monkeypatch.setattr(accounts_admin, "mask_phone", spy)
    user = User(phone="13800000001")
    code = SmsCode(phone="13800000002", purpose="login", created_at=timezone.now())

    assert user.masked_phone == "masked"
    assert str(user) == "masked"
    assert str(code).startswith("masked login ")
    assert accounts_admin.SmsCodeAdmin.masked_phone(None, code) == "masked"
    assert calls == ["13800000001", "13800000001", "13800000002", "13800000002"]
