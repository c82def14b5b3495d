import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_member_number() -> str:
    """Ten random digits, first non-zero: safe to show and share, reveals no sign-up order."""
    return str(secrets.randbelow(9 * 10**9) + 10**9)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, *, email=None, phone=None, password=None, **extra):
        email = self.normalize_email(email) if email else None
        user = self.model(email=email or None, phone=phone or None, **extra)
        if not user.member_number:
            user.member_number = new_member_number()
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, member_number=None, *, email=None, phone=None, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(
            email=email, phone=phone, password=password, member_number=member_number or "", **extra
        )

    def create_superuser(self, member_number=None, email=None, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(
            email=email, password=password, member_number=member_number or "", **extra
        )


class User(AbstractBaseUser, PermissionsMixin):
    """A member or an operator (is_staff). Logs in by phone or e-mail.

    `member_number` is the public identifier (shown on cards, typed by a friend to transfer);
    the primary key never leaves the system.
    """

    class Gender(models.TextChoices):
        UNSPECIFIED = "", _("未设置")
        FEMALE = "female", _("女")
        MALE = "male", _("男")
        OTHER = "other", _("其他")

    member_number = models.CharField(_("会员号"), max_length=16, unique=True)
    email = models.EmailField(_("邮箱"), null=True, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, null=True, blank=True, unique=True)
    name = models.CharField(_("姓名"), max_length=100, blank=True)
    avatar = models.ImageField(_("头像"), upload_to="avatars/", blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    gender = models.CharField(_("性别"), max_length=10, choices=Gender.choices, blank=True)
    external_id = models.CharField(
        _("外部编号"), max_length=100, null=True, blank=True, unique=True
    )
    is_active = models.BooleanField(_("有效"), default=True)
    is_staff = models.BooleanField(_("运营人员"), default=False)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("注销时间"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "member_number"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("会员")
        verbose_name_plural = _("会员")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.masked_login or self.member_number

    @property
    def masked_login(self) -> str:
        if self.phone:
            return f"{self.phone[:3]}****{self.phone[-4:]}" if len(self.phone) >= 7 else self.phone
        if self.email:
            local, _sep, domain = self.email.partition("@")
            return f"{local[:2]}***@{domain}"
        return ""

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None or not self.is_active


class Address(models.Model):
    member = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    recipient = models.CharField(_("收件人"), max_length=50)
    phone = models.CharField(_("电话"), max_length=20)
    province = models.CharField(_("省"), max_length=30)
    city = models.CharField(_("市"), max_length=30)
    district = models.CharField(_("区"), max_length=30, blank=True)
    detail = models.CharField(_("详细地址"), max_length=200)
    postal_code = models.CharField(_("邮编"), max_length=10, blank=True)
    is_default = models.BooleanField(_("默认"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("收货地址")
        verbose_name_plural = _("收货地址")
        ordering = ["-is_default", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=models.Q(is_default=True),
                name="address_one_default_per_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.province}{self.city}{self.district}{self.detail}"


class ApiToken(models.Model):
    """An app's bearer token. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("应用令牌")
        verbose_name_plural = _("应用令牌")

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user_id}"


class VerificationCode(models.Model):
    """A one-time code sent to a phone or e-mail (registration, login by code).

    Stored hashed; valid for a few minutes; consumed once by a guarded update.
    """

    class Purpose(models.TextChoices):
        REGISTER = "register"
        LOGIN = "login"

    recipient = models.CharField(max_length=254)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["recipient", "purpose", "-created_at"], name="verification_lookup_idx"
            )
        ]
