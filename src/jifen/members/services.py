"""Member writes. Registration creates the user and its wallet in one transaction."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.ledger.services import wallet_create
from jifen.members.models import Address, User
from jifen.members.selectors import PHONE_RE, normalize_phone


def _clean_login(*, email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    email = (email or "").strip().lower() or None
    phone = normalize_phone(phone or "") or None
    if not email and not phone:
        raise ValidationFailed(
            _("请填写手机号或邮箱。"),
            code="login_required",
            fields={"phone": "required", "email": "required"},
        )
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(
                _("邮箱格式不正确。"), code="invalid_email", fields={"email": "invalid"}
            ) from None
    if phone and not PHONE_RE.match(phone):
        raise ValidationFailed(
            _("手机号格式不正确。"), code="invalid_phone", fields={"phone": "invalid"}
        )
    return email, phone


@transaction.atomic
def member_register(
    *,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    name: str = "",
    is_staff: bool = False,
    external_id: str | None = None,
    validate: bool = True,
) -> User:
    """Create a member with a wallet. Raises Conflict when the phone or e-mail is taken."""
    email, phone = _clean_login(email=email, phone=phone)
    if password is not None and validate:
        try:
            validate_password(password)
        except DjangoValidationError as error:
            raise ValidationFailed(
                " ".join(error.messages), code="weak_password", fields={"password": error.messages}
            ) from None
    if (email and User.objects.filter(email__iexact=email).exists()) or (
        phone and User.objects.filter(phone=phone).exists()
    ):
        raise Conflict(_("该手机号或邮箱已注册。"), code="already_registered")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                phone=phone,
                password=password,
                name=name.strip()[:100],
                is_staff=is_staff,
                external_id=external_id,
            )
    except IntegrityError:  # a concurrent registration, or a member-number collision
        raise Conflict(_("该手机号或邮箱已注册。"), code="already_registered") from None
    wallet_create(member=user)
    return user


# --- addresses --------------------------------------------------------------------------------

ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "detail", "postal_code")
MAX_ADDRESSES = 20


def _clean_address(data: dict) -> dict:
    cleaned, errors = {}, {}
    for name in ADDRESS_FIELDS:
        value = str(data.get(name) or "").strip()
        limit = Address._meta.get_field(name).max_length
        if not value and name not in ("district", "postal_code"):
            errors[name] = "required"
        elif len(value) > limit:
            errors[name] = f"at most {limit} characters"
        cleaned[name] = value
    if cleaned.get("phone") and not PHONE_RE.match(normalize_phone(cleaned["phone"])):
        errors["phone"] = "invalid"
    if errors:
        raise ValidationFailed(
            _("地址信息不完整或格式不正确。"), code="invalid_address", fields=errors
        )
    cleaned["phone"] = normalize_phone(cleaned["phone"])
    return cleaned


def _lock_member(member) -> None:
    """Serialise one member's address writes (count limit, single default) on their row."""
    list(User.objects.select_for_update().filter(pk=member.pk).values_list("pk", flat=True))


def _address_of(member, address_id: int) -> Address:
    address = Address.objects.filter(pk=address_id, member=member).first()
    if address is None:  # another member's address looks exactly like a missing one
        raise NotFound(_("地址不存在。"), code="address_not_found")
    return address


def _make_default(member, address: Address) -> None:
    Address.objects.filter(member=member, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )
    Address.objects.filter(pk=address.pk).update(is_default=True)
    address.is_default = True


@transaction.atomic
def address_create(*, member, data: dict) -> Address:
    """Add a shipping address; the first one, or one marked default, becomes the default."""
    cleaned = _clean_address(data)
    _lock_member(member)
    if Address.objects.filter(member=member).count() >= MAX_ADDRESSES:
        raise ValidationFailed(
            _("最多保存 %(n)s 个地址。") % {"n": MAX_ADDRESSES}, code="too_many_addresses"
        )
    first = not Address.objects.filter(member=member).exists()
    address = Address.objects.create(member=member, **cleaned)
    if first or data.get("is_default"):
        _make_default(member, address)
    return address


@transaction.atomic
def address_update(*, member, address_id: int, data: dict) -> Address:
    _lock_member(member)
    address = _address_of(member, address_id)
    cleaned = _clean_address(data)
    Address.objects.filter(pk=address.pk).update(**cleaned)
    address.refresh_from_db()
    if data.get("is_default"):
        _make_default(member, address)
    return address


@transaction.atomic
def address_delete(*, member, address_id: int) -> None:
    _lock_member(member)
    address = _address_of(member, address_id)
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(member=member).order_by("-id").first()
        if successor:
            _make_default(member, successor)


@transaction.atomic
def profile_update(*, member, data: dict) -> User:
    """Change name, birthday and gender (avatar is set by `avatar_set`)."""
    errors = {}
    name = str(data.get("name", member.name) or "").strip()
    if len(name) > 100:
        errors["name"] = "at most 100 characters"
    gender = data.get("gender", member.gender) or ""
    if gender not in User.Gender.values:
        errors["gender"] = "invalid"
    birthday = data.get("birthday", member.birthday)
    if isinstance(birthday, str):
        import datetime as dt

        try:
            birthday = dt.date.fromisoformat(birthday) if birthday else None
        except ValueError:
            errors["birthday"] = "YYYY-MM-DD"
    if errors:
        raise ValidationFailed(_("资料格式不正确。"), code="invalid_profile", fields=errors)
    User.objects.filter(pk=member.pk).update(name=name, gender=gender, birthday=birthday)
    member.refresh_from_db()
    return member
