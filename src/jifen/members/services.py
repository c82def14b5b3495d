"""Member writes. Registration creates the user and its wallet in one transaction."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, ValidationFailed
from jifen.ledger.services import wallet_create
from jifen.members.models import User
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
