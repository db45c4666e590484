from django.apps import AppConfig


class BenchSiteConfig(AppConfig):
    name = "benchsite"

    def ready(self):
        # The statement counter and the sqlite pragmas, on every new database connection.
        from . import counting  # noqa: F401
