from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .validators import mask_phone, normalize_phone, validate_mainland_mobile


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    HQ_MANAGER = "hq_manager", _("HQ manager")
    STORE_MANAGER = "store_manager", _("Store manager")
    KITCHEN_STAFF = "kitchen_staff", _("Kitchen staff")
    CANTEEN_STAFF = "canteen_staff", _("Canteen staff")


STAFF_ROLES = frozenset(
    {Role.HQ_MANAGER, Role.STORE_MANAGER, Role.KITCHEN_STAFF, Role.CANTEEN_STAFF}
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, phone: str, password: str | None, **extra):
        phone = normalize_phone(phone)
        validate_mainland_mobile(phone)
        user = self.model(phone=phone, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, phone: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(phone, password, **extra)

    def create_superuser(self, phone: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        extra.setdefault("role", Role.HQ_MANAGER)
        return self._create_user(phone, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: customers log in with their phone and an SMS code, staff with a password.

    What a staff member may touch is decided by ``role`` (accounts.backends) and by where
    they work (``stores.StaffAssignment``: the brand for HQ, the stores for store staff).
    """

    phone = models.CharField(
        _("mobile phone"), max_length=11, unique=True, validators=[validate_mainland_mobile]
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("Can log in to the back office with a password.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_frozen = models.BooleanField(
        _("frozen"), default=False, help_text=_("A frozen account cannot order or ask for refunds.")
    )
    frozen_reason = models.CharField(_("frozen reason"), max_length=255, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    # The brand whose rule froze the account (its HQ may lift the freeze); empty: the platform's
    # (a superuser froze it), lifted by superusers only. A plain id: accounts imports no other app.
    frozen_brand_id = models.BigIntegerField(_("frozen by brand"), null=True, blank=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # HQ managers lift freezes from the refund review screen (refunds.admin); superusers also
        # from the user list.
        permissions = [("unfreeze_user", _("Can unfreeze a frozen account"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_frozen=False) | models.Q(frozen_at__isnull=False),
                name="accounts_user_frozen_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_phone})" if self.name else self.masked_phone

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    def get_full_name(self) -> str:
        return self.name or self.phone

    def get_short_name(self) -> str:
        return self.name or self.masked_phone


class SmsPurpose(models.TextChoices):
    LOGIN = "login", _("Login")
    REFUND = "refund", _("Refund confirmation")


class SmsCode(models.Model):
    """A one-time code sent by SMS. Only its keyed hash is stored."""

    phone = models.CharField(max_length=11, db_index=True)
    purpose = models.CharField(max_length=20, choices=SmsPurpose.choices, default=SmsPurpose.LOGIN)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS code")
        verbose_name_plural = _("SMS codes")
        indexes = [models.Index(fields=["phone", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)} {self.purpose} {self.created_at:%Y-%m-%d %H:%M}"


class PhoneThrottle(models.Model):
    """One row per phone, locked while a code is issued so that limits hold under concurrency."""

    phone = models.CharField(max_length=11, unique=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.phone
