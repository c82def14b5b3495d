from jifen.catalog.models import Sku

FIELDS = ("stock_initial", "received", "returned", "adjusted", "reserved", "sold", "remaining")


def counters(sku) -> dict:
    """The SKU's stock counters, fresh from the database."""
    return Sku.objects.filter(pk=sku.pk).values(*FIELDS).get()


def stock(sku, **changes) -> dict:
    base = dict.fromkeys(FIELDS, 0)
    base.update(changes)
    return base
