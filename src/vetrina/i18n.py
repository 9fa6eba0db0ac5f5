"""Languages: which one a request speaks, and text that is translated when it is shown, not when it is made.

Domain code writes `_("There is no product {product_id}.", product_id=7)`: a `Message`, a str whose value is the
English text (so logs, tests and every existing consumer keep working), that also remembers its catalogue id and
parameters. Whoever shows it to a person (a problem response, a page) calls `localise`, which translates it into
the language of the request being answered (`current_language`), set once per request by the web layer.

A Message kept in the database (`vetrina.db.StoredText`) is stored as its catalogue id and parameters
(`storable`) and read back as a Message (`from_storage`), so it too is translated when shown.

Catalogues are gettext files under `locales/`, extracted, updated and compiled with Babel (`make i18n`; see
docs/i18n.md). Placeholders are `str.format` names, `{name}`, in Python, templates and scripts alike.
"""

from __future__ import annotations

import gettext
import json
import logging
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.support import Translations

log = logging.getLogger(__name__)

# The languages Vetrina speaks: the tag stored and sent (BCP 47), and its name in itself for the switcher.
LANGUAGES: dict[str, str] = {"en": "English", "it": "Italiano", "zh": "中文"}
SOURCE_LANGUAGE = "en"
# Babel's locale for each tag: Chinese is written in simplified characters, formatted as in mainland China.
_BABEL_LOCALES = {"en": "en", "it": "it", "zh": "zh_Hans_CN"}
LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"  # pages, problems, Python
SCRIPT_DOMAIN = "scripts"  # the browser's scripts (player, shop drawer, studio), sent to pages as JSON


@dataclass
class Speaking:
    """The language of the request being answered. Mutable, so a dependency that finds the signed-in user's own
    setting can change it for everything after it (even code running in another thread or task of the request)."""

    language: str = SOURCE_LANGUAGE
    # A Message was shown in `language`: the answer depends on it (Content-Language, Vary), JSON too.
    translated: bool = False


_speaking: ContextVar[Speaking | None] = ContextVar("vetrina_speaking", default=None)


def current_language() -> str:
    speaking = _speaking.get()
    return speaking.language if speaking is not None else SOURCE_LANGUAGE


def start_speaking(language: str) -> Speaking:
    """Begin answering in `language` (for the rest of this context); the returned holder may change it later."""
    speaking = Speaking(language)
    _speaking.set(speaking)
    return speaking


def prefer(language: str | None) -> None:
    """The request's user chose `language`: it wins over what their browser asked for."""
    speaking = _speaking.get()
    if speaking is not None and language in LANGUAGES:
        speaking.language = language


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Run a block in `language` (a job, a command, a test)."""
    token = _speaking.set(Speaking(language if language in LANGUAGES else SOURCE_LANGUAGE))
    try:
        yield
    finally:
        _speaking.reset(token)


def babel_locale(language: str | None = None) -> Locale:
    """Babel's locale for one of our languages (the request's by default), or for any locale Babel names."""
    language = language or current_language()
    return Locale.parse(_BABEL_LOCALES.get(language, language))


def supported(tag: str | None) -> str | None:
    """The language of ours a BCP 47 tag asks for ("zh-CN", "zh-Hans", "it-IT", "EN"), or None."""
    if not tag or len(tag) > 35:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def check_language(tag: str) -> str:
    """A BCP 47 tag well formed enough to name a language (for subtitles and product translations: any language
    may be written, not only those the interface speaks), normalised ("pt-br" -> "pt-BR"); ValueError if not."""
    cleaned = tag.strip().replace("_", "-") if isinstance(tag, str) else ""
    # "und" (undetermined) and "root" name no language a reader could choose (Babel reads them as English).
    if not cleaned or len(cleaned) > 35 or cleaned.split("-")[0].lower() in ("und", "root"):
        raise ValueError("not a language tag")
    try:
        locale = Locale.parse(cleaned, sep="-")
    except (ValueError, UnknownLocaleError):
        raise ValueError("not a language tag") from None
    parts = [locale.language]
    if locale.script:
        parts.append(locale.script)
    if locale.territory:
        parts.append(locale.territory)
    return "-".join(parts)


def from_accept_language(header: str | None, default: str) -> str:
    """The best of our languages for an Accept-Language header (RFC 9110 12.5.4), else `default`: a language we do
    not have is never an error."""
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "")[:2000].split(",")[:50]):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language is not None and 0 < quality <= 1:
            choices.append((-quality, index, language))
    return min(choices)[2] if choices else default


@cache
def translations(language: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The compiled catalogue of `language` (English is the source: no catalogue)."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [_BABEL_LOCALES[language]], domain)
    if not isinstance(found, Translations):
        log.warning("no compiled %s catalogue for %s in %s: run `make i18n`", domain, language, LOCALE_DIR)
    return found


class _Placeholders(string.Formatter):
    """`str.format` for texts that are data (translations, texts read back from the database): a placeholder is a
    plain name with at most a precision ("{seconds:.1f}"), never an attribute or index ("{x.__class__}"), a
    conversion or a width, so no text can reach into its values' objects or ask for a gigabyte of padding."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        if not field_name.isidentifier():
            raise KeyError(field_name)
        return kwargs[field_name], field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            raise ValueError(f"no conversion (!{conversion}) in a text")
        return value

    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec and not _PRECISION.fullmatch(format_spec):
            raise ValueError(f"no format ({format_spec}) but a precision in a text")
        return format(value, format_spec)


_PRECISION = re.compile(r"\.[0-9]f")
_PLACEHOLDERS = _Placeholders()


def _formatted(text: str, params: dict[str, Any], fallback: str) -> str:
    """`text` with its placeholders filled; a translation that names a placeholder the source lacks falls back."""
    if not params:
        return text
    for candidate in (text, fallback):
        try:
            return _PLACEHOLDERS.vformat(candidate, (), params)
        except (KeyError, IndexError, ValueError, AttributeError):
            log.warning("text %r does not fit its parameters %s", candidate, sorted(params))
    return fallback


class Message(str):
    """Text for a person: its value is the English; `localised()` is the same text in the request's language."""

    msgid: str
    params: dict[str, Any]
    plural: str | None
    number: int | None

    def __new__(
        cls, msgid: str, params: dict[str, Any], plural: str | None = None, count: int | None = None
    ) -> Message:
        source = plural if plural is not None and count != 1 else msgid
        message = super().__new__(cls, _formatted(source, params, source))
        message.msgid, message.params, message.plural, message.number = msgid, params, plural, count
        return message

    def localised(self, language: str | None = None) -> str:
        language = language or current_language()
        params = {name: localise(value, language) for name, value in self.params.items()}
        catalogue = translations(language)
        if self.plural is not None and self.number is not None:
            text = catalogue.ngettext(self.msgid, self.plural, self.number)
        else:
            text = catalogue.gettext(self.msgid)
        source = self.plural if self.plural is not None and self.number != 1 else self.msgid
        return _formatted(text, params, source)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled by job queues and caches as itself, not as a plain str
        return (Message, (self.msgid, self.params, self.plural, self.number))


def _(msgid: str, **params: Any) -> Message:
    """Text to show a person, translated when shown. `msgid` is English with `{name}` placeholders."""
    return Message(msgid, params)


def n_(singular: str, plural: str, count: int, **params: Any) -> Message:
    """As `_`, for text that depends on a number (`count` is also a placeholder)."""
    return Message(singular, {"count": count, **params}, plural, count)


def localise(text: object, language: str | None = None) -> Any:
    """`text` in the request's language when it is a `Message`; anything else as it is."""
    if not isinstance(text, Message):
        return text
    speaking = _speaking.get()
    if language is None and speaking is not None:
        speaking.translated = True
    return text.localised(language)


def said_by(exc: BaseException) -> str:
    """What an exception says: the Message it was raised with, still one (`str(exc)` would make it English)."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], Message) else str(exc)


def clipped(text: str, limit: int) -> str:
    """`text` cut to `limit` characters for a column; a Message that fits stays one (translated when shown)."""
    return text if len(text) <= limit else text[:limit]


def joined(texts: Sequence[str], separator: str = " ") -> str:
    """`texts` one after another as one text, each still translated when shown."""
    names = [f"text{index}" for index in range(len(texts))]
    # A msgid of placeholders only: no catalogue has it, so every language shows it as it is, filled.
    return Message(separator.join("{" + name + "}" for name in names), dict(zip(names, texts, strict=True)))


# Stored text that begins with this is a Message (JSON follows) or escaped plain text. A control character: no
# typed text holds one (`vetrina.text.clean_text` refuses them), nor did any English stored before Messages were.
STORED_MARK = "\x1f"


def storable(text: str) -> str:
    """`text` as a database column keeps it: a Message as its catalogue id and parameters, so that it is translated
    when read back and shown; any other text as it is (one that begins with the mark gets another in front)."""
    if isinstance(text, Message):
        return STORED_MARK + json.dumps(_as_json(text), ensure_ascii=False, separators=(",", ":"))
    return STORED_MARK + text if text.startswith(STORED_MARK) else text


def from_storage(stored: str) -> str:
    """What `storable` stored: a Message again, or the plain text. A msgid no catalogue has any more shows its
    English; a damaged Message shows its stored text, never an error."""
    if not stored.startswith(STORED_MARK):
        return stored
    body = stored[len(STORED_MARK) :]
    if not body.startswith("{"):
        return body  # plain text that began with the mark
    try:
        return _from_json(json.loads(body))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        log.warning("a stored text is not a readable Message: %.200r", body)
        return body


def _as_json(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"msgid": message.msgid}
    if message.params:
        data["params"] = {name: _param_as_json(value) for name, value in message.params.items()}
    if message.plural is not None:
        data["plural"], data["number"] = message.plural, message.number
    return data


def _param_as_json(value: Any) -> Any:
    if isinstance(value, Message):
        return _as_json(value)
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value)  # as it was shown: text, or anything else written out (a path, a Decimal)


def _from_json(data: Any) -> Message:
    if not isinstance(data, dict) or not isinstance(data["msgid"], str):
        raise ValueError("not a stored Message")
    params = {
        str(name): _from_json(value) if isinstance(value, dict) else value
        for name, value in data.get("params", {}).items()
    }
    plural, number = data.get("plural"), data.get("number")
    if not (plural is None or isinstance(plural, str)) or not (number is None or isinstance(number, int)):
        raise ValueError("not a stored plural")
    return Message(data["msgid"], params, plural, number)


def script_texts(language: str) -> dict[str, str]:
    """The browser scripts' texts in `language`, {English: translation}, for a page to hand its scripts."""
    if language == SOURCE_LANGUAGE:
        return {}
    catalogue = translations(language, SCRIPT_DOMAIN)
    return {key: value for key, value in getattr(catalogue, "_catalog", {}).items() if isinstance(key, str) and key}
