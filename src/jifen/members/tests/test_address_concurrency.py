import pytest

from jifen.core.errors import ValidationFailed
from jifen.members.models import Address
from jifen.members.services import MAX_ADDRESSES, address_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ADDRESS = {
    "recipient": "王小明",
    "phone": "13800138000",
    "province": "上海市",
    "city": "上海市",
    "district": "浦东新区",
    "detail": "世纪大道 100 号",
}


def test_concurrent_creates_keep_one_default_and_the_limit(member, run_concurrently):
    results = run_concurrently(lambda i: address_create(member=member, data=ADDRESS), 30)
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(errors) == 30 - MAX_ADDRESSES
    assert all(isinstance(e, ValidationFailed) and e.code == "too_many_addresses" for e in errors)
    assert Address.objects.filter(member=member).count() == MAX_ADDRESSES
    assert Address.objects.filter(member=member, is_default=True).count() == 1
