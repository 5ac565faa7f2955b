import factory

from accounts.models import Role, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("phone",)

    phone = factory.Sequence(lambda n: f"139{n:08d}")
    name = factory.Faker("name", locale="zh_CN")
    role = Role.CUSTOMER
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    phone = factory.Sequence(lambda n: f"137{n:08d}")
    role = Role.STORE_MANAGER
    is_staff = True
