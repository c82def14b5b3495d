import datetime as dt
import io
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from jifen.members.models import Address


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(size=(40, 40), name="me.png"):
    buffer = io.BytesIO()
    Image.new("RGB", size, (212, 51, 42)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


ADDRESS = {
    "recipient": "王小明",
    "phone": "139 0000 0001",
    "province": "上海市",
    "city": "上海市",
    "district": "黄浦区",
    "detail": "南京东路 100 号",
    "postal_code": "200001",
}


# --- profile --------------------------------------------------------------------------------


def test_profile_update(alice_client, alice):
    response = alice_client.post(
        reverse("web:profile"), {"name": "  小明  ", "birthday": "1990-05-20", "gender": "male"}
    )

    assert response.status_code == 302 and response.url == reverse("web:profile")
    alice.refresh_from_db()
    assert (alice.name, alice.birthday, alice.gender) == ("小明", dt.date(1990, 5, 20), "male")
    assert "资料已保存。" in alice_client.get(reverse("web:profile")).content.decode()


def test_profile_avatar_is_stored_under_a_random_name(alice_client, alice, tmp_path):
    response = alice_client.post(
        reverse("web:profile"), {"name": "王小明", "gender": "", "avatar": png(name="../../x.png")}
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.avatar.name.startswith("avatars/") and alice.avatar.name.endswith(".png")
    assert "x.png" not in alice.avatar.name
    assert (tmp_path / alice.avatar.name).exists()
    with Image.open(tmp_path / alice.avatar.name) as stored:
        assert stored.size == (40, 40)
    page = alice_client.get(reverse("web:profile")).content.decode()
    assert f'src="/media/{alice.avatar.name}"' in page


def test_profile_replacing_the_avatar_deletes_the_old_file(alice_client, alice, tmp_path):
    alice_client.post(reverse("web:profile"), {"name": "a", "avatar": png()})
    alice.refresh_from_db()
    old = alice.avatar.name
    alice_client.post(reverse("web:profile"), {"name": "a", "avatar": png()})
    alice.refresh_from_db()
    assert alice.avatar.name != old
    assert not (tmp_path / old).exists()


@pytest.mark.parametrize(
    "upload, message",
    [
        (
            SimpleUploadedFile("a.png", b"not an image", content_type="image/png"),
            "请上传有效的图片文件。",
        ),
        (
            SimpleUploadedFile("a.txt", b"hello", content_type="text/plain"),
            "请上传有效的图片文件。",
        ),
        ("big", "头像不能超过 2 MB。"),
    ],
)
def test_profile_rejects_bad_avatars_and_changes_nothing(alice_client, alice, upload, message):
    if upload == "big":
        upload = SimpleUploadedFile(
            "big.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), content_type="image/png"
        )
    response = alice_client.post(
        reverse("web:profile"), {"name": "新名字", "gender": "female", "avatar": upload}
    )

    assert response.status_code == 422
    assert response.context["form"].errors["avatar"] == [message]
    alice.refresh_from_db()
    assert (alice.name, alice.gender, alice.avatar.name) == ("王小明", "", "")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"birthday": "1990-13-45"}, "birthday"),
        ({"birthday": "2999-01-01"}, "birthday"),
        ({"birthday": "1800-01-01"}, "birthday"),
        ({"gender": "robot"}, "gender"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_profile_rejects_bad_fields_and_changes_nothing(alice_client, alice, data, field):
    response = alice_client.post(reverse("web:profile"), {"name": "新名字", **data})
    assert response.status_code == 422
    assert field in response.context["form"].errors
    alice.refresh_from_db()
    assert (alice.name, alice.birthday, alice.gender) == ("王小明", None, "")


# --- addresses ------------------------------------------------------------------------------


def test_address_add_first_becomes_default(alice_client, alice):
    response = alice_client.post(reverse("web:address_add"), ADDRESS)

    assert response.status_code == 302 and response.url == reverse("web:addresses")
    (address,) = Address.objects.filter(member=alice)
    assert (address.recipient, address.phone, address.detail, address.is_default) == (
        "王小明",
        "13900000001",
        "南京东路 100 号",
        True,
    )
    page = alice_client.get(reverse("web:addresses")).content.decode()
    assert "地址已添加。" in page and "南京东路 100 号" in page


def test_address_add_returns_to_a_page_of_this_site_only(alice_client, alice):
    back = "/mall/checkout/?line=7:1"
    url = reverse("web:address_add") + "?" + urlencode({"next": back})
    response = alice_client.post(url, ADDRESS)
    assert response.status_code == 302 and response.url == back
    for elsewhere in ("https://evil.example.com/", "//evil.example.com/x"):
        url = reverse("web:address_add") + "?" + urlencode({"next": elsewhere})
        response = alice_client.post(url, {**ADDRESS, "detail": f"{elsewhere} 1 号"})
        assert response.status_code == 302 and response.url == reverse("web:addresses")
    assert Address.objects.filter(member=alice).count() == 3


def test_address_add_invalid_changes_nothing(alice_client, alice):
    response = alice_client.post(reverse("web:address_add"), {**ADDRESS, "phone": "12ab"})
    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == ["地址信息不完整或格式不正确。"]
    assert "phone" in response.context["form"].errors
    response = alice_client.post(reverse("web:address_add"), {**ADDRESS, "detail": ""})
    assert response.status_code == 422
    assert "detail" in response.context["form"].errors
    assert not Address.objects.filter(member=alice).exists()


def test_address_edit(alice_client, alice):
    alice_client.post(reverse("web:address_add"), ADDRESS)
    address = Address.objects.get(member=alice)

    form = alice_client.get(reverse("web:address_edit", args=[address.pk]))
    assert form.context["form"]["detail"].value() == "南京东路 100 号"
    response = alice_client.post(
        reverse("web:address_edit", args=[address.pk]), {**ADDRESS, "detail": "西藏中路 1 号"}
    )

    assert response.status_code == 302
    address.refresh_from_db()
    assert address.detail == "西藏中路 1 号"


def test_address_set_default_and_delete(alice_client, alice):
    alice_client.post(reverse("web:address_add"), ADDRESS)
    alice_client.post(reverse("web:address_add"), {**ADDRESS, "detail": "第二个地址"})
    first, second = Address.objects.filter(member=alice).order_by("pk")
    assert (first.is_default, second.is_default) == (True, False)

    alice_client.post(reverse("web:address_default", args=[second.pk]))
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)

    response = alice_client.post(reverse("web:address_delete", args=[second.pk]))
    assert response.status_code == 302
    assert list(Address.objects.filter(member=alice).values_list("pk", "is_default")) == [
        (first.pk, True)
    ]


def test_someone_elses_address_is_not_found_and_unchanged(client, alice, bob):
    client.force_login(alice)
    client.post(reverse("web:address_add"), ADDRESS)
    address = Address.objects.get(member=alice)
    client.force_login(bob)

    not_found = client.get(reverse("web:address_edit", args=[address.pk]))
    assert not_found.status_code == 404
    assert "页面不存在" in not_found.content.decode()
    assert (
        client.post(
            reverse("web:address_edit", args=[address.pk]), {**ADDRESS, "detail": "x"}
        ).status_code
        == 404
    )
    assert client.post(reverse("web:address_default", args=[address.pk])).status_code == 404
    response = client.post(reverse("web:address_delete", args=[address.pk]), follow=True)
    assert "地址不存在。" in response.content.decode()
    address.refresh_from_db()
    assert (address.member_id, address.detail, address.is_default) == (
        alice.pk,
        "南京东路 100 号",
        True,
    )


def test_address_actions_need_post(alice_client, alice):
    alice_client.post(reverse("web:address_add"), ADDRESS)
    address = Address.objects.get(member=alice)
    assert alice_client.get(reverse("web:address_delete", args=[address.pk])).status_code == 405
    assert alice_client.get(reverse("web:address_default", args=[address.pk])).status_code == 405
    assert Address.objects.filter(member=alice).count() == 1
