"""One Settings object, read from VETRINA_* environment variables."""

from __future__ import annotations

import logging
import os
import re
import secrets
import warnings
from functools import cached_property
from pathlib import Path
from typing import Literal

import limits
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vetrina.errors import InvalidInput
from vetrina.text import web_origin

log = logging.getLogger(__name__)
# The funding providers Vetrina has; sandbox is for development and tests.
FUNDING_PROVIDERS = ("sandbox", "alipay", "stripe")
# What each real provider needs set before it may be configured.
PROVIDER_SETTINGS = {
    "alipay": ("alipay_app_id", "alipay_private_key", "alipay_public_key"),
    "stripe": ("stripe_secret_key", "stripe_webhook_secret"),
}
# How often one key may do each action (limits' notation); VETRINA_RATE_LIMITS is merged over these.
# login counts per account and login_address per address (many people may share one address: a NAT, an office),
# signup and events per address, token per user and address,
# topup, upload, live_chat and live_reaction per user; ads per viewer and ads_address per address, each for ad
# requests (refused over it) and,
# counted apart, for impression and click beacons (over it: recorded, not charged).
DEFAULT_RATE_LIMITS = {
    "login": "10/minute",
    "login_address": "60/minute",
    "signup": "20/hour",
    "token": "10/hour",
    "topup": "120/hour",
    "events": "600/minute",
    "upload": "30/hour",
    "ads": "60/minute",
    "ads_address": "600/minute",
    "live_chat": "20/minute",
    "live_reaction": "120/minute",
}
# Old name -> new name: the old environment variables are still read, with a deprecation warning.
RENAMED = {"transcode_stall_seconds": "lease_stall_seconds", "max_transcode_attempts": "lease_max_attempts"}


def _origin(value: str, field: str) -> str:
    """`text.web_origin` for a setting: what is wrong with it as a start-up error."""
    try:
        return web_origin(value, field)
    except InvalidInput as exc:
        raise ValueError(exc.detail) from None


class Settings(BaseSettings):
    """Every setting Vetrina reads; each maps to the env var VETRINA_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="VETRINA_", extra="ignore")

    data_dir: Path = Field(Path("vetrina-data"), description="Where the embedded database and media live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite vetrina.db in data_dir.")
    redis_url: str | None = Field(None, description="Redis URL for the job queue and rate limits; default: SQLite.")
    queue_timeout_ms: int = Field(
        5000,
        ge=10,
        le=120_000,
        description="How long a request waits for a database connection (or SQLite's write turn) before it is "
        "answered 503 with Retry-After: under overload, load is shed instead of queued for ever.",
    )
    idempotency_key_hours: int = Field(
        168,
        ge=1,
        le=24 * 366,
        description="How long an Idempotency-Key's first answer is kept for its retries; an hourly job deletes "
        "older keys.",
    )
    live_rtmp_url: str = Field(
        "rtmp://127.0.0.1:1935/live",
        max_length=500,
        description="Where hosts stream their live shows (shown with each stream key): the nginx-rtmp server's "
        "`live` application (`vetrina live rtmp-config` writes its configuration).",
    )
    live_rtmp_pull_url: str = Field(
        "rtmp://127.0.0.1:1935/live",
        max_length=500,
        description="Where the live encoder takes each show's stream from: the same nginx-rtmp `live` application, "
        "as the encoder's machine reaches it.",
    )
    live_rtmp_control_url: str = Field(
        "http://127.0.0.1:1936",
        max_length=500,
        description="nginx-rtmp's statistics and control on its loopback HTTP port: the live encoder reads a "
        "stream's codec and size there, and drops a stream it cannot take.",
    )
    live_ladder_heights: list[int] = Field(
        [720, 480, 360],
        min_length=1,
        max_length=6,
        description="The live HLS rungs, capped at the stream's own height (each live rung costs a share of a core "
        "for as long as the show lasts).",
    )
    live_max_source_height: int = Field(
        1080, ge=144, le=4320, description="The tallest picture a live stream may send; a taller one is dropped."
    )
    live_blocked_words: list[str] = Field(
        [], max_length=10_000, description="Words no live chat message may use (whole words, any case)."
    )
    live_resume_grace_seconds: int = Field(
        300,
        ge=10,
        le=86400,
        description="How long an interrupted show waits for its publisher to come back on the same key before it "
        "ends by itself.",
    )
    queue_name: str = Field("vetrina", description="Names this deployment's queue (several may share a Redis).")
    secret_key: str | None = Field(
        None, description="Signs media URLs; default: a random key kept in data_dir/secret_key."
    )
    storage_url: str | None = Field(
        None, description="s3://bucket/prefix: media in S3-compatible object storage; default: data_dir/media."
    )
    s3_endpoint_url: str | None = Field(
        None, description="The object store's endpoint when it is not AWS S3 (MinIO, Ceph RGW, R2, ...)."
    )
    edge_url: str = Field(
        "", description="The caching edge's origin (deploy/nginx), e.g. https://media.example: media links point there."
    )
    base_url: str = Field("", description="Public origin for absolute URLs, e.g. https://vetrina.example.")
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="Largest accepted video upload.")
    max_image_bytes: int = Field(20 * 1024**2, gt=0, description="Largest accepted product image upload.")
    max_music_bytes: int = Field(30 * 1024**2, gt=0, description="Largest accepted studio music upload.")
    max_duration_s: float = Field(4 * 3600, gt=0, description="Longest accepted video, in seconds.")
    ladder_heights: list[int] = Field([1080, 720, 480, 360], description="HLS rendition heights.")
    segment_seconds: int = Field(4, ge=1, le=10, description="Target HLS segment length.")
    x264_preset: str = Field("veryfast", description="libx264 preset for the ladder.")
    transcode_chunk_seconds: int = Field(
        60,
        ge=0,
        description="Sources longer than two of these are transcoded in chunks this long (a multiple of "
        "segment_seconds), spread over the workers; 0: always in one pass.",
    )
    lease_stall_seconds: float = Field(
        60,
        gt=0,
        description="Background work (transcodes, renders, imports, auto-tagging) with no heartbeat for this long "
        "is taken over by another worker.",
    )
    lease_max_attempts: int = Field(
        3, ge=1, description="Interrupted attempts at a piece of background work before it is marked failed."
    )
    lease_sweep_seconds: float = Field(
        60, gt=0, description="Seconds between sweeps that queue stalled background work again, per worker process."
    )
    transcode_stall_seconds: float | None = Field(
        None, gt=0, deprecated="Use lease_stall_seconds", description="Deprecated name of lease_stall_seconds."
    )
    max_transcode_attempts: int | None = Field(
        None, ge=1, deprecated="Use lease_max_attempts", description="Deprecated name of lease_max_attempts."
    )
    in_process_worker: bool = Field(True, description="`vetrina serve` runs job workers in its own process(es).")
    worker_threads: int = Field(1, ge=1, description="Job worker threads per process.")
    job_poll_max_s: float = Field(1.0, gt=0, le=60, description="Longest pause between queue polls when idle.")
    media_url_ttl_s: int = Field(6 * 3600, ge=60, description="Lifetime of signed media URLs.")
    default_currency: str = Field("EUR", description="Currency of wallets and prices unless one is given.")
    default_language: Literal["en", "it", "zh"] = Field(
        "en",
        description="Language of pages and messages for someone who chose none and whose browser asks for none "
        "Vetrina speaks (en, it or zh).",
    )
    subtitle_max_bytes: int = Field(
        512 * 1024, ge=1024, le=20 * 1024 * 1024, description="Largest subtitle file (WebVTT or SRT) accepted."
    )
    commission_bps: int = Field(500, ge=0, le=10_000, description="Platform commission, in basis points (500 = 5%).")
    order_ttl_minutes: int = Field(30, ge=1, description="An unpaid order closes and frees its stock after this.")
    flash_sale_grace_minutes: int = Field(
        10,
        ge=1,
        le=24 * 60,
        description="An order in a flash sale holds the sale's price until the sale ends plus this, then closes "
        "unpaid (instead of the ordinary order lifetime).",
    )
    auto_confirm_days: float = Field(
        10, gt=0, description="Days after shipping before receipt is confirmed for the buyer."
    )
    funding_providers: list[str] = Field(
        default_factory=list,
        description='Where wallet money may come from, e.g. ["sandbox"] (development only); none: no top-ups.',
    )
    sandbox_topup_limit: int = Field(1_000_000, gt=0, description="Largest top-up the sandbox approves (minor units).")
    alipay_app_id: str = Field("", description="Your Alipay application's APPID.")
    alipay_private_key: str = Field(
        "", description="Your application's RSA private key (PEM text, or the path of a PEM file): signs requests."
    )
    alipay_public_key: str = Field(
        "", description="Alipay's RSA public key (PEM text or path): verifies its answers and notifications."
    )
    alipay_gateway: str = Field(
        "https://openapi.alipay.com/gateway.do",
        description="Alipay's gateway (the sandbox: https://openapi-sandbox.dl.alipaydev.com/gateway.do).",
    )
    alipay_app_cert: str = Field(
        "", description="Public-key-certificate mode, for payouts: your app's certificate (PEM text or path)."
    )
    alipay_cert: str = Field("", description="Public-key-certificate mode: Alipay's public certificate (PEM or path).")
    alipay_root_cert: str = Field("", description="Public-key-certificate mode: Alipay's root certificate chain.")
    stripe_secret_key: str = Field("", description="Your Stripe secret API key (sk_live_... or sk_test_...).")
    stripe_webhook_secret: str = Field(
        "", description="The signing secret (whsec_...) of your Stripe webhook endpoint."
    )
    stripe_api_base: str = Field("https://api.stripe.com", description="Stripe's API origin (tests point it here).")
    stripe_webhook_tolerance_s: int = Field(
        300, ge=1, description="Oldest Stripe webhook signature timestamp accepted, in seconds (replay window)."
    )
    payout_minimum: int = Field(1000, ge=1, description="Smallest payout a merchant may ask for (minor units).")
    provider_payment_timeout_minutes: int = Field(
        30, ge=1, description="A provider payment still unpaid after this is asked about, then expired."
    )
    ads_click_window_days: float = Field(7, gt=0, description="Days after an ad click a purchase is credited to it.")
    ads_view_window_days: float = Field(1, gt=0, description="Days after an ad is seen a purchase is credited to it.")
    ads_campaign_cache_s: float = Field(2.0, ge=0, description="Seconds a process decides from its copy of campaigns.")
    fetch_allow_private: bool = Field(
        False, description="Allow third-party VAST tags on private or local addresses (development only)."
    )
    webhook_allow_private: bool = Field(False, description="Allow webhook URLs on private addresses (development).")
    webhook_backoff_scale: float = Field(1.0, gt=0, description="Multiplies webhook retry delays (tests shorten them).")
    sign_in_cache_s: float = Field(
        2.0, ge=0, le=60, description="Seconds a process remembers who a bearer token or sign-in cookie belongs to."
    )
    rights_cache_s: float = Field(
        2.0, ge=0, description="Seconds a process answers from its copy of a title's licences."
    )
    timeline_cache_s: float = Field(2.0, ge=0, description="Seconds a public video's timeline is served from memory.")
    studio_short_side: int = Field(1080, ge=144, le=2160, description="Short side of rendered spots (1080 = 1080p).")
    studio_fps: int = Field(30, ge=10, le=60, description="Frame rate of rendered spots.")
    studio_crf: int = Field(18, ge=0, le=51, description="x264 quality of a rendered spot before the HLS ladder.")
    studio_preview_short_side: int = Field(270, ge=144, le=720, description="Short side of studio previews.")
    studio_preview_slots: int = Field(1, ge=1, description="Previews rendered at once per process.")
    studio_fonts: list[str] = Field(
        [], description="Fonts for spot copy, tried in order (`path` or `path#face`); default: DejaVu, Noto CJK."
    )
    autotag_every_s: float = Field(0.5, ge=0.1, le=5, description="Seconds between frames auto-tagging looks at.")
    autotag_analysis_width: int = Field(480, ge=160, le=1920, description="Width frames are analysed at.")
    autotag_min_inliers: int = Field(10, ge=4, description="Matching features a product needs in a frame.")
    autotag_ratio: float = Field(0.75, gt=0, lt=1, description="Lowe's ratio test for feature matches.")
    autotag_cut_threshold: float = Field(0.5, gt=0, le=1, description="Histogram distance that marks a cut.")
    autotag_min_samples: int = Field(2, ge=1, description="Frames a product must be seen in to be proposed.")
    autotag_min_confidence: float = Field(0.3, ge=0, le=1, description="Proposals below this are not shown.")
    autotag_max_candidates: int = Field(5000, ge=1, description="Most products one auto-tagging run looks for.")
    feed_max_bytes: int = Field(512 * 1024**2, gt=0, description="Largest partner feed document fetched.")
    feed_media_max_bytes: int = Field(8 * 1024**3, gt=0, description="Largest media file fetched from a feed.")
    feed_fetch_timeout_s: float = Field(30, gt=0, description="Seconds without progress before a feed fetch fails.")
    feed_rerun_hours: float = Field(24, gt=0, description="Default hours between scheduled runs of a partner feed.")
    geo_header: str = Field("CF-IPCountry", description="Request header a trusted CDN puts the viewer's country in.")
    trusted_proxies: list[str] = Field(
        ["127.0.0.1/32", "::1/128"], description="Addresses (CIDR) whose geo and X-Forwarded-For headers are believed."
    )
    geoip_db: Path | None = Field(None, description="A MaxMind GeoIP2/GeoLite2 Country or City .mmdb file.")
    default_territory: str = Field(
        "ZZ", description="ISO 3166-1 code assumed when no header or database says (ZZ: unknown)."
    )
    metrics_allow: list[str] = Field(
        ["127.0.0.1/32", "::1/128"], description="Addresses (CIDR) that may read /metrics (admins always may)."
    )
    session_days: int = Field(14, ge=1, description="Lifetime of a sign-in session.")
    secure_cookies: bool = Field(
        False,
        description="Mark cookies Secure on every request; without it, only requests that came over HTTPS (directly, "
        "or X-Forwarded-Proto from a trusted proxy) get Secure cookies.",
    )
    token_ttl_days: int = Field(
        90, ge=1, le=3650, description="Lifetime of an API token unless its maker chooses another (1 to 3650 days)."
    )
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description='Limits per action, merged over the defaults, e.g. {"login": "5/minute", "signup": "5/hour"}.',
    )
    embed_origins: list[str] = Field(
        default_factory=list,
        description='Sites whose pages may frame a player that sells, for every merchant, e.g. ["https://shop.example"].',
    )
    rate_limits_enabled: bool = Field(True, description="Switch rate limits off (load benchmarks on loopback).")
    uploads_per_day: int = Field(
        100, ge=1, description="Uploads (videos, images, music, subtitles) one user may make in 24 hours."
    )
    upload_bytes_per_day: int = Field(50 * 1024**3, gt=0, description="Bytes of video one user may upload in 24 hours.")
    processing_per_user: int = Field(20, ge=1, description="Videos of one user transcoding at once.")

    @model_validator(mode="after")
    def _read_renamed(self) -> Settings:
        """Settings given under their old names still count, with a warning naming the new ones."""
        for old, new in RENAMED.items():
            value = self.__dict__[old]
            if value is None:
                continue
            message = f"VETRINA_{old.upper()} is deprecated: set VETRINA_{new.upper()} instead"
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            log.warning(message)
            if new not in self.model_fields_set:
                self.__dict__[new] = value
        return self

    @model_validator(mode="after")
    def _chunks_on_segment_grid(self) -> Settings:
        """A chunk must end where a segment does, so the joined ladder has no short segment at a join."""
        if self.transcode_chunk_seconds % self.segment_seconds:
            raise ValueError(
                f"VETRINA_TRANSCODE_CHUNK_SECONDS ({self.transcode_chunk_seconds}) must be a multiple of "
                f"VETRINA_SEGMENT_SECONDS ({self.segment_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _providers_have_keys(self) -> Settings:
        """A real provider named in VETRINA_FUNDING_PROVIDERS without its keys is a start-up error, not a 500 later."""
        if "sandbox" in self.funding_providers and len(self.funding_providers) > 1:
            # Sandbox money spent at a shop would become that shop's real, withdrawable sales.
            raise ValueError("the sandbox cannot be configured beside a real funding provider")
        for provider in self.funding_providers:
            missing = [name for name in PROVIDER_SETTINGS.get(provider, ()) if not getattr(self, name)]
            if provider in PROVIDER_SETTINGS and not self.base_url:
                missing.append("base_url")  # else notify URLs would follow a request's Host header
            if missing:
                names = ", ".join(f"VETRINA_{name.upper()}" for name in missing)
                raise ValueError(f"the funding provider {provider} needs {names}")
        return self

    @model_validator(mode="after")
    def _shared_secret(self) -> Settings:
        """Nodes that share a store or a queue must share the secret too: each would make its own otherwise, and
        links signed on one would not open on another (nor at the edge)."""
        if (self.storage_url or self.redis_url) and not self.secret_key:
            raise ValueError(
                "VETRINA_SECRET_KEY must be set (the same on every node) with VETRINA_STORAGE_URL or VETRINA_REDIS_URL"
            )
        return self

    @field_validator("funding_providers")
    @classmethod
    def _known_providers(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - set(FUNDING_PROVIDERS))
        if unknown:
            raise ValueError(f"unknown funding providers {unknown}: Vetrina has {list(FUNDING_PROVIDERS)}")
        return list(dict.fromkeys(names))

    @field_validator("storage_url")
    @classmethod
    def _s3_url(cls, url: str | None) -> str | None:
        if url and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w!.*'()/-]*)?", url):
            raise ValueError(f"{url!r} is not a storage URL like s3://bucket/prefix")
        return url or None

    @field_validator("edge_url")
    @classmethod
    def _edge_origin(cls, url: str) -> str:
        return _origin(url, "edge_url") if url else ""

    @field_validator("embed_origins")
    @classmethod
    def _web_origins(cls, given: list[str]) -> list[str]:
        return list(dict.fromkeys(_origin(origin, "embed_origins") for origin in given))

    @field_validator("rate_limits")
    @classmethod
    def _known_rate_limits(cls, given: dict[str, str]) -> dict[str, str]:
        """Each limit in `limits`' notation ("5/minute", "100 per hour") for an action Vetrina limits."""
        unknown = sorted(set(given) - set(DEFAULT_RATE_LIMITS))
        if unknown:
            raise ValueError(f"unknown rate-limited actions {unknown}: Vetrina limits {sorted(DEFAULT_RATE_LIMITS)}")
        for action, limit in given.items():
            try:
                item = limits.parse(limit)
            except ValueError:
                item = None
            if item is None or item.amount < 1:
                raise ValueError(f"the rate limit of {action}, {limit!r}, is not like 5/minute")
        return {**DEFAULT_RATE_LIMITS, **given}

    @field_validator("ladder_heights", "live_ladder_heights")
    @classmethod
    def _heights_descending(cls, heights: list[int]) -> list[int]:
        if not heights or any(h <= 0 or h % 2 for h in heights):
            raise ValueError("ladder heights must be positive even numbers")
        return sorted(set(heights), reverse=True)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'vetrina.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @cached_property
    def signing_key(self) -> bytes:
        """The media-URL signing key: from the env, else kept in the data dir so every process shares it."""
        if self.secret_key:
            return self.secret_key.encode()
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            candidate = key_file.with_suffix(f".{secrets.token_hex(4)}")
            candidate.write_text(secrets.token_hex(32))
            candidate.chmod(0o600)
            # link() fails if another process won the race; then we read theirs.
            try:
                os.link(candidate, key_file)
            except FileExistsError:
                pass
            finally:
                candidate.unlink()
        return key_file.read_text().strip().encode()
