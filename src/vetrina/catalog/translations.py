"""Products in the reader's language: a merchant writes a product once and may add its title and description in
other languages Vetrina speaks; pages and the player's cards show the reader's, else the original."""

from __future__ import annotations

from typing import Any

from vetrina.catalog.models import Product
from vetrina.errors import InvalidInput
from vetrina.i18n import LANGUAGES, _, current_language, supported
from vetrina.text import clean_text

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
_FIELDS = ("title", "description")


def clean_translations(value: Any) -> dict[str, dict[str, str]] | None:
    """`{"it": {"title": …, "description": …}}` checked and trimmed; None or {} (no translations) as None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(_("Translations are an object of languages."), field="translations")
    cleaned: dict[str, dict[str, str]] = {}
    for tag, texts in value.items():
        language = supported(tag) if isinstance(tag, str) else None
        if language is None or language in cleaned:
            raise InvalidInput(
                _(
                    "“{tag}” is not a language products are translated into ({languages}).",
                    tag=str(tag)[:35],
                    languages=", ".join(sorted(LANGUAGES)),
                ),
                field="translations",
            )
        if not isinstance(texts, dict) or not texts or set(texts) - set(_FIELDS):
            raise InvalidInput(
                _("A translation has a title, a description, or both (language {language}).", language=language),
                field="translations",
            )
        entry = {}
        for name, limit in (("title", MAX_TITLE), ("description", MAX_DESCRIPTION)):
            if name in texts:
                if not isinstance(texts[name], str):
                    raise InvalidInput(_("A translation's texts are strings."), field="translations")
                text = clean_text(texts[name], f"translations.{language}.{name}", limit, required=name == "title")
                if text:
                    entry[name] = text
        if entry:
            cleaned[language] = entry
    return cleaned or None


def shown(product: Any, field: str, language: str | None = None) -> str:
    """A product's `field` ("title" or "description") in `language` (the request's by default), else the original
    the merchant wrote. `product` is a row or anything with the same `translations` and fields (an API model)."""
    translated = (getattr(product, "translations", None) or {}).get(language or current_language(), {})
    return str(translated.get(field) or getattr(product, field))


def in_language(product: Product, language: str | None = None) -> tuple[str, str]:
    """The product's title and description in `language` (the request's by default), each falling back."""
    return shown(product, "title", language), shown(product, "description", language)
