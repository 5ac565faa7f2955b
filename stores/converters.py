"""URL converter for store and dish codes: exactly what ``stores.models.code_validator`` and the
fields' ``max_length`` (32) allow. Anything else (a NUL byte, a slash, 33 characters) matches no
URL and is a plain 404 before any query runs."""

from django.urls import register_converter


class CodeConverter:
    regex = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CodeConverter, "code")
