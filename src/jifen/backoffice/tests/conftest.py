import pytest
from django.test import Client


@pytest.fixture
def superuser(make_member):
    """An operator with every permission (the back-office's usual first account)."""
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def second_superuser(make_member):
    user = make_member(email="second@example.com", phone=None, is_staff=True, name="复核")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def admin_client_for(logged_in):
    """A back-office client: the root conftest's session client."""
    return logged_in


@pytest.fixture
def boss(superuser, admin_client_for) -> Client:
    return admin_client_for(superuser)
