"""Page/page_size pagination shared by the API and the pages (API.md: up to 100 a page)."""

from jifen.core.errors import ValidationFailed

MAX_PAGE_SIZE = 100


def page_bounds(page: int = 1, page_size: int = 20) -> tuple[int, int]:
    """(offset, limit) for a 1-based page; ValidationFailed for out-of-range values."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            "page >= 1 and 1 <= page_size <= 100",
            code="invalid_page",
            fields={"page": page, "page_size": page_size},
        )
    return (page - 1) * page_size, page_size
