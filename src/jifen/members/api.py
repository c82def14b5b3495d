"""Members in the JSON API: app tokens, registration, codes, profile and addresses.

Each operation parses input (strict types: "10", 1.5 and true are not strings or integers),
calls one service or selector and renders the result. Errors are DomainErrors, rendered by
jifen.config.api in the one error shape.
"""

import datetime as dt
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import AfterValidator, ConfigDict, StrictBool, StrictStr

from jifen.core.pagination import page_bounds
from jifen.core.ratelimit import client_ip
from jifen.members import services, tokens
from jifen.members.auth import member_auth, token_auth
from jifen.members.models import Address

router = Router(tags=["members"])


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here (422) rather than fail in the database.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


# A string and only a string (no numbers turned into text), without NUL characters.
Text = Annotated[StrictStr, AfterValidator(_no_nul)]


class StrictSchema(Schema):
    """Input: unknown fields are refused, so a misspelt field is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict


class ErrorOut(Schema):
    error: ErrorDetail


def local(value: dt.datetime | None) -> dt.datetime | None:
    """Times leave in the business time zone, with their offset (+08:00 by default)."""
    return timezone.localtime(value) if value else None


# --- tokens, registration, codes --------------------------------------------------------------


class TokenIn(StrictSchema):
    login: Text = Field(max_length=254, description="手机号、邮箱或会员号")
    password: Text = Field(max_length=128)


class TokenOut(Schema):
    token: str
    expires_at: dt.datetime


class RegisterIn(StrictSchema):
    phone: Text | None = Field(None, max_length=20)
    email: Text | None = Field(None, max_length=254)
    password: Text = Field(max_length=128)
    name: Text = Field("", max_length=100)
    invite_code: Text | None = Field(None, max_length=32)
    code: Text | None = Field(None, max_length=12)


class RegisterOut(TokenOut):
    member_number: str


class CodeIn(StrictSchema):
    phone: Text | None = Field(None, max_length=20)
    email: Text | None = Field(None, max_length=254)
    purpose: Literal["register"] = "register"


class CodeOut(Schema):
    expires_at: dt.datetime


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@router.post("/auth/token", response={200: TokenOut, **ERRORS, 429: ErrorOut})
def token_create(request, payload: TokenIn):
    """Log in with a password; the token is shown once. 429 after repeated failures."""
    issued = tokens.token_login(
        login=payload.login, password=payload.password, ip=client_ip(request)
    )
    return Status(200, {"token": issued.token, "expires_at": local(issued.expires_at)})


@router.delete("/auth/token", auth=token_auth, response={204: None, 401: ErrorOut})
def token_delete(request):
    """Revoke the bearer token of this request."""
    tokens.token_revoke(api_token=request.api_token)
    return Status(204, None)


@router.post("/auth/register", response={201: RegisterOut, **ERRORS, 429: ErrorOut})
def register(request, payload: RegisterIn):
    """Register by phone or e-mail; with JIFEN_REGISTRATION_CODE_REQUIRED, `code` too.

    `invite_code` links the new member to the member who invited them; the optional
    `X-Jifen-Device` header (an app's device id) helps spot self-referrals.
    """
    user, issued = tokens.member_register_with_token(
        phone=payload.phone,
        email=payload.email,
        password=payload.password,
        name=payload.name,
        code=payload.code,
        ip=client_ip(request),
        invite_code=payload.invite_code,
        device=request.headers.get("X-Jifen-Device"),
    )
    return Status(
        201,
        {
            "token": issued.token,
            "expires_at": local(issued.expires_at),
            "member_number": user.member_number,
        },
    )


@router.post("/auth/codes", response={202: CodeOut, **ERRORS, 429: ErrorOut})
def code_create(request, payload: CodeIn):
    """Send a six-digit code to a phone or e-mail (rate-limited)."""
    recipient = tokens.code_recipient(phone=payload.phone, email=payload.email)
    verification = tokens.code_send(
        recipient=recipient, purpose=payload.purpose, ip=client_ip(request)
    )
    return Status(202, {"expires_at": local(verification.expires_at)})


# --- profile ----------------------------------------------------------------------------------


class MeOut(Schema):
    member_number: str
    phone: str | None
    email: str | None
    name: str
    avatar: str | None
    birthday: dt.date | None
    gender: str
    date_joined: dt.datetime
    tier: dict | None = Field(None, description='{"code", "name", "rank"}')
    tier_progress: dict | None = Field(None, description="as GET /api/v1/me/tier")


class ProfileIn(StrictSchema):
    name: Text | None = Field(None, max_length=100)
    birthday: Text | None = Field(None, description="YYYY-MM-DD, or null to clear")
    gender: Text | None = Field(None, description='"", "female", "male" or "other"')


def me_out(user) -> dict:
    from jifen.tiers.api import tier_out
    from jifen.tiers.selectors import member_tier

    tier = member_tier(user.pk)
    return {
        "member_number": user.member_number,
        "phone": user.phone,
        "email": user.email,
        "name": user.name,
        "avatar": user.avatar.url if user.avatar else None,
        "birthday": user.birthday,
        "gender": user.gender,
        "date_joined": local(user.date_joined),
        "tier": {"code": tier.code, "name": tier.name, "rank": tier.rank},
        "tier_progress": tier_out(user.pk),
    }


@router.get("/me", auth=member_auth, response={200: MeOut, 401: ErrorOut})
def me(request):
    return Status(200, me_out(request.auth))


@router.patch("/me", auth=member_auth, response={200: MeOut, **ERRORS})
def me_update(request, payload: ProfileIn):
    """Change name, birthday or gender; fields left out keep their value."""
    data = payload.model_dump(exclude_unset=True)
    if data.get("name") is None:
        data.pop("name", None)
    user = services.profile_update(member=request.auth, data=data)
    return Status(200, me_out(user))


# --- addresses --------------------------------------------------------------------------------


class AddressIn(StrictSchema):
    recipient: Text
    phone: Text
    province: Text
    city: Text
    district: Text = ""
    detail: Text
    postal_code: Text = ""
    is_default: StrictBool = False


class AddressOut(Schema):
    id: int
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    postal_code: str
    is_default: bool
    created_at: dt.datetime


class AddressList(Schema):
    items: list[AddressOut]
    count: int


def address_out(address: Address) -> dict:
    return {
        **{name: getattr(address, name) for name in services.ADDRESS_FIELDS},
        "id": address.pk,
        "is_default": address.is_default,
        "created_at": local(address.created_at),
    }


@router.get("/me/addresses", auth=member_auth, response={200: AddressList, **ERRORS})
def address_list(request, page: int = 1, page_size: int = 20):
    offset, limit = page_bounds(page, page_size)
    addresses = Address.objects.filter(member=request.auth)  # default first, then newest
    return Status(
        200,
        {
            "items": [address_out(a) for a in addresses[offset : offset + limit]],
            "count": addresses.count(),
        },
    )


@router.post("/me/addresses", auth=member_auth, response={201: AddressOut, **ERRORS})
def address_create(request, payload: AddressIn):
    address = services.address_create(member=request.auth, data=payload.model_dump())
    return Status(201, address_out(address))


@router.put(
    "/me/addresses/{address_id}",
    auth=member_auth,
    response={200: AddressOut, **ERRORS},
)
def address_update(request, address_id: int, payload: AddressIn):
    address = services.address_update(
        member=request.auth, address_id=address_id, data=payload.model_dump()
    )
    return Status(200, address_out(address))


@router.delete("/me/addresses/{address_id}", auth=member_auth, response={204: None, **ERRORS})
def address_delete(request, address_id: int):
    services.address_delete(member=request.auth, address_id=address_id)
    return Status(204, None)
