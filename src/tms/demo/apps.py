from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and synthetic data for benchmarks. Depends on every domain; none on it."""

    name = "tms.demo"
    label = "demo"
    verbose_name = "Demo and synthetic data"
