from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "jifen.backoffice"
    label = "backoffice"

    def ready(self) -> None:
        from django.contrib import admin

        # unfold ships its own admin/index.html and comes first among the apps, so the
        # dashboard is named here rather than shadowed by template order.
        admin.site.index_template = "backoffice/dashboard.html"
